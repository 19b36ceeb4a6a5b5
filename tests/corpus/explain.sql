-- EXPLAIN, EXPLAIN EXTENDED, EXPLAIN FORMAT=JSON and ANALYZE of SELECT,
-- UPDATE, DELETE and INSERT: MariaDB's columns with the access path
-- trireme's planner chose (ALL, const, eq_ref, ref, range) and counted
-- rows. Where InnoDB would read a covering index or estimate differently,
-- the answers differ on purpose (listed in expected/explain.fail): trireme
-- reports the plan it runs.

CREATE TABLE tag (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(10), parent_id INT, note VARCHAR(10), KEY (parent_id), UNIQUE KEY uname (name));
INSERT INTO tag (name, parent_id, note) VALUES ('a', NULL, 'x'), ('b', 1, 'y'), ('c', 1, 'z');
CREATE TABLE plain (id INT, v VARCHAR(5));
INSERT INTO plain VALUES (1, 'a'), (2, 'b');
-- @ordered
EXPLAIN SELECT id FROM plain WHERE v = 'x';
-- @ordered
EXPLAIN SELECT * FROM tag WHERE id = 1;
-- @ordered
EXPLAIN SELECT * FROM tag WHERE name = 'a';
-- @ordered
EXPLAIN SELECT * FROM tag WHERE parent_id = 1;
-- @ordered
EXPLAIN SELECT * FROM tag WHERE id > 1;
-- @ordered
EXPLAIN SELECT * FROM tag WHERE note = 'x';
-- @ordered
EXPLAIN SELECT a.note, b.note FROM tag a JOIN tag b ON b.id = a.parent_id;
-- @ordered
EXPLAIN EXTENDED SELECT id FROM plain WHERE v = 'x';
-- @ordered
EXPLAIN FORMAT=TRADITIONAL SELECT * FROM plain;
-- @ordered
EXPLAIN SELECT * FROM plain ORDER BY v;
-- @ordered
EXPLAIN (SELECT v FROM plain) UNION (SELECT note FROM tag);
-- @ordered
EXPLAIN SELECT id, (SELECT COUNT(*) FROM plain p WHERE p.id = tag.id) FROM tag WHERE id = 2;
-- @ordered
EXPLAIN SELECT 1;
-- @ordered
EXPLAIN DELETE FROM plain WHERE v = 'x';
-- @ordered
EXPLAIN INSERT INTO plain VALUES (9, 'z');
-- @ordered
EXPLAIN SELECT * FROM tag WHERE name = 'a' FOR UPDATE;
EXPLAIN SELECT * FROM nope;
EXPLAIN FORMAT=JSON SELECT * FROM tag WHERE name = 'a';
EXPLAIN FORMAT=JSON SELECT * FROM tag WHERE id = 1;
EXPLAIN FORMAT=JSON SELECT 1;
EXPLAIN FORMAT=JSON SELECT * FROM plain;
-- @ordered
ANALYZE SELECT id FROM plain WHERE v = 'a';
EXPLAIN FORMAT=TREE SELECT 1;
-- @ordered
EXPLAIN SELECT t.id, COUNT(c.id) FROM tag t LEFT JOIN tag c ON t.id = c.parent_id WHERE t.name = 'b' GROUP BY t.id ORDER BY NULL;
