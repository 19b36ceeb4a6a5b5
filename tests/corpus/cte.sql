-- Common table expressions: WITH, several CTEs, CTEs referencing CTEs,
-- column lists, WITH RECURSIVE (series, hierarchies, paths, limits), and
-- CTEs in INSERT ... SELECT / UPDATE / DELETE.

CREATE TABLE staff (id INT PRIMARY KEY, name VARCHAR(10), boss INT, salary INT);
INSERT INTO staff VALUES (1, 'ceo', NULL, 300), (2, 'cto', 1, 200), (3, 'cfo', 1, 190), (4, 'dev1', 2, 100), (5, 'dev2', 2, 110), (6, 'acct', 3, 90), (7, 'intern', 4, 20);
WITH t AS (SELECT 1 AS x) SELECT x FROM t;
WITH t (a, b) AS (SELECT 1, 2) SELECT a + b FROM t;
WITH a AS (SELECT 1 AS x), b AS (SELECT x + 1 AS y FROM a) SELECT x, y FROM a, b;
WITH big AS (SELECT * FROM staff WHERE salary >= 150) SELECT name FROM big ORDER BY salary DESC;
WITH big AS (SELECT * FROM staff WHERE salary >= 150) SELECT COUNT(*) FROM big b1 JOIN big b2 ON b1.id < b2.id;
WITH totals AS (SELECT boss, SUM(salary) AS s FROM staff WHERE boss IS NOT NULL GROUP BY boss) SELECT st.name, t.s FROM totals t JOIN staff st ON st.id = t.boss ORDER BY st.name;
WITH t AS (SELECT id FROM staff) SELECT * FROM t WHERE id IN (SELECT boss FROM staff);
WITH t AS (SELECT id, name FROM staff WHERE boss = 1) SELECT name FROM staff WHERE boss IN (SELECT id FROM t) ORDER BY name;
WITH t AS (SELECT 1 AS a UNION ALL SELECT 2) SELECT SUM(a) FROM t;
WITH t AS (SELECT name FROM staff ORDER BY salary LIMIT 2) SELECT name FROM t;
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 10) SELECT n FROM seq;
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 100) SELECT SUM(n), COUNT(*) FROM seq;
WITH RECURSIVE fib (i, a, b) AS (SELECT 1, 0, 1 UNION ALL SELECT i + 1, b, a + b FROM fib WHERE i < 20) SELECT i, a FROM fib ORDER BY i;
WITH RECURSIVE fact (n, f) AS (SELECT 0, CAST(1 AS DECIMAL(30,0)) UNION ALL SELECT n + 1, f * (n + 1) FROM fact WHERE n < 20) SELECT n, f FROM fact ORDER BY n;
WITH RECURSIVE dates (d) AS (SELECT DATE '2024-02-26' UNION ALL SELECT d + INTERVAL 1 DAY FROM dates WHERE d < '2024-03-03') SELECT d FROM dates ORDER BY d;
WITH RECURSIVE chain (id, name, lvl) AS (SELECT id, name, 0 FROM staff WHERE boss IS NULL UNION ALL SELECT s.id, s.name, c.lvl + 1 FROM staff s JOIN chain c ON s.boss = c.id) SELECT id, name, lvl FROM chain ORDER BY id;
WITH RECURSIVE chain (id, path) AS (SELECT id, CAST(name AS CHAR(200)) FROM staff WHERE boss IS NULL UNION ALL SELECT s.id, CONCAT(c.path, '/', s.name) FROM staff s JOIN chain c ON s.boss = c.id) SELECT path FROM chain ORDER BY path;
WITH RECURSIVE up (id, boss, name) AS (SELECT id, boss, name FROM staff WHERE name = 'intern' UNION ALL SELECT s.id, s.boss, s.name FROM staff s JOIN up ON s.id = up.boss) SELECT name FROM up;
WITH RECURSIVE sub (id) AS (SELECT 2 UNION ALL SELECT s.id FROM staff s JOIN sub ON s.boss = sub.id) SELECT SUM(salary) FROM staff WHERE id IN (SELECT id FROM sub);
WITH RECURSIVE chain (id, lvl) AS (SELECT id, 0 FROM staff WHERE boss IS NULL UNION ALL SELECT s.id, lvl + 1 FROM staff s JOIN chain ON s.boss = chain.id) SELECT lvl, COUNT(*) FROM chain GROUP BY lvl ORDER BY lvl;
WITH RECURSIVE t (n) AS (SELECT 1 UNION SELECT n FROM t) SELECT n FROM t;
WITH RECURSIVE t (n, s) AS (SELECT 1, CAST('a' AS CHAR(30)) UNION ALL SELECT n + 1, CONCAT(s, 'a') FROM t WHERE n < 5) SELECT n, s FROM t ORDER BY n;
WITH RECURSIVE digits (d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM digits WHERE d < 9) SELECT COUNT(*) FROM digits a, digits b;
WITH RECURSIVE t (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT n FROM t LIMIT 5;
SET max_recursive_iterations = 100;
WITH RECURSIVE t (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 1000) SELECT MAX(n) FROM t;
SET max_recursive_iterations = DEFAULT;
SET cte_max_recursion_depth = 100;
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 5) SELECT GROUP_CONCAT(n ORDER BY n) FROM seq;
WITH t AS (SELECT 1 AS a), t AS (SELECT 2 AS a) SELECT a FROM t;
WITH t AS (SELECT nosuch FROM staff) SELECT * FROM t;
WITH t (a, b) AS (SELECT 1) SELECT * FROM t;
WITH t AS (SELECT id FROM staff) SELECT t.id FROM t WHERE t.id > (SELECT AVG(id) FROM t);
WITH t AS (SELECT boss, COUNT(*) AS n FROM staff GROUP BY boss) SELECT s.name, t.n FROM staff s LEFT JOIN t ON t.boss = s.id ORDER BY s.id;
SELECT * FROM (WITH t AS (SELECT 7 AS v) SELECT v FROM t) d;
SELECT (WITH t AS (SELECT 8 AS v) SELECT v FROM t);
CREATE TABLE squares (n INT PRIMARY KEY, sq INT);
INSERT INTO squares WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 10) SELECT n, n * n FROM s;
SELECT COUNT(*), SUM(sq) FROM squares;
WITH odd AS (SELECT n FROM squares WHERE n % 2 = 1) UPDATE squares SET sq = -sq WHERE n IN (SELECT n FROM odd);
SELECT n, sq FROM squares ORDER BY n;
WITH small AS (SELECT n FROM squares WHERE n <= 3) DELETE FROM squares WHERE n IN (SELECT n FROM small);
SELECT COUNT(*) FROM squares;
UPDATE squares SET sq = 0 WHERE n IN (WITH t AS (SELECT 4 AS n) SELECT n FROM t);
SELECT sq FROM squares WHERE n = 4;
CREATE TABLE edges (src INT, dst INT);
INSERT INTO edges VALUES (1, 2), (2, 3), (3, 4), (2, 5), (5, 4), (4, 6);
WITH RECURSIVE reach (node) AS (SELECT 1 UNION SELECT e.dst FROM edges e JOIN reach r ON e.src = r.node) SELECT node FROM reach ORDER BY node;
WITH RECURSIVE paths (node, path, len) AS (SELECT 1, CAST('1' AS CHAR(100)), 0 UNION ALL SELECT e.dst, CONCAT(p.path, '>', e.dst), p.len + 1 FROM edges e JOIN paths p ON e.src = p.node) SELECT path, len FROM paths WHERE node = 6 ORDER BY len, path;
WITH RECURSIVE paths (node, len) AS (SELECT 1, 0 UNION ALL SELECT e.dst, p.len + 1 FROM edges e JOIN paths p ON e.src = p.node) SELECT node, MIN(len) FROM paths GROUP BY node ORDER BY node;
WITH RECURSIVE t (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3), u (m) AS (SELECT n * 10 FROM t) SELECT m FROM u ORDER BY m;
-- A recursive CTE's columns have the anchor's types: a value of the
-- recursive part that does not fit fails in strict mode, and is cut with a
-- warning outside it.
WITH RECURSIVE big (n) AS (SELECT 1 UNION ALL SELECT n * 100000 FROM big WHERE n < 1000000000000) SELECT n FROM big;
WITH RECURSIVE grow (n, s) AS (SELECT 1, 'a' UNION ALL SELECT n + 1, CONCAT(s, 'b') FROM grow WHERE n < 3) SELECT n, s FROM grow;
WITH RECURSIVE grow (n, s) AS (SELECT 1, CAST('a' AS CHAR(10)) UNION ALL SELECT n + 1, CONCAT(s, 'b') FROM grow WHERE n < 3) SELECT n, s FROM grow ORDER BY n;
SET SESSION sql_mode = '';
WITH RECURSIVE grow (n, s) AS (SELECT 1, 'a' UNION ALL SELECT n + 1, CONCAT(s, 'b') FROM grow WHERE n < 3) SELECT n, s FROM grow ORDER BY n;
SET SESSION sql_mode = DEFAULT;
