-- Regular expressions (MariaDB: PCRE2): REGEXP / RLIKE, NOT REGEXP,
-- REGEXP_LIKE? (MySQL only), REGEXP_REPLACE, REGEXP_INSTR, REGEXP_SUBSTR,
-- case sensitivity following the collation, and errors for bad patterns.

SELECT 'abc' REGEXP 'b', 'abc' REGEXP '^b', 'abc' REGEXP 'c$', 'abc' RLIKE 'a.c', 'abc' NOT REGEXP 'x';
SELECT 'ABC' REGEXP 'abc', 'ABC' REGEXP BINARY 'abc', 'ABC' REGEXP '(?-i)abc', 'abc' REGEXP '(?i)ABC';
SELECT 'abc' COLLATE utf8mb4_bin REGEXP 'ABC', 'ABC' REGEXP 'a' COLLATE utf8mb4_bin;
SELECT 'a1b2' REGEXP '[0-9]', 'ab' REGEXP '[0-9]', 'aaa' REGEXP '^a{3}$', 'aa' REGEXP '^a{3}$', 'abab' REGEXP '^(ab)+$';
SELECT 'foo@bar.com' REGEXP '^[^@]+@[^@]+\\.[a-z]+$', 'not-an-email' REGEXP '^[^@]+@[^@]+\\.[a-z]+$';
SELECT '2024-02-29' REGEXP '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', '24-2-29' REGEXP '^[0-9]{4}-';
SELECT 'a.b' REGEXP 'a\\.b', 'axb' REGEXP 'a\\.b', 'a+b' REGEXP 'a\\+b', 'tab\there' REGEXP '\\t';
SELECT 'abc' REGEXP '[[:alpha:]]+', '123' REGEXP '^[[:digit:]]+$', ' ' REGEXP '[[:space:]]', 'x' REGEXP '[[:punct:]]';
SELECT 'word boundary' REGEXP '\\bbound', 'unbound' REGEXP '\\bbound', 'café' REGEXP '^caf.$', 'é' REGEXP '^.$';
SELECT '' REGEXP '', 'a' REGEXP '', NULL REGEXP 'a', 'a' REGEXP NULL;
SELECT 'a' REGEXP '(', 'a' REGEXP '[';
SELECT 'a' REGEXP '*';
SELECT REGEXP_REPLACE('abc abc', 'b', 'X'), REGEXP_REPLACE('2024-02-29', '(\\d+)-(\\d+)-(\\d+)', '\\3/\\2/\\1'), REGEXP_REPLACE('aaa', 'a*', '-');
SELECT REGEXP_REPLACE('Hello World', '[aeiou]', ''), REGEXP_REPLACE('HELLO', 'l', 'x'), REGEXP_REPLACE('HELLO' COLLATE utf8mb4_bin, 'l', 'x');
SELECT REGEXP_REPLACE('  many   spaces  ', '\\s+', ' '), REGEXP_REPLACE('abc', '', 'x'), REGEXP_REPLACE(NULL, 'a', 'b');
SELECT REGEXP_INSTR('abcabc', 'c'), REGEXP_INSTR('abcabc', 'z'), REGEXP_INSTR('xyz', '[yz]+'), REGEXP_INSTR('éa', 'a');
SELECT REGEXP_SUBSTR('abc123def456', '[0-9]+'), REGEXP_SUBSTR('no digits', '[0-9]+'), REGEXP_SUBSTR('key=value', '(?<==).*');
SELECT REGEXP_SUBSTR('Price: $42.50', '\\d+(\\.\\d+)?'), REGEXP_SUBSTR('ABC', 'b'), REGEXP_SUBSTR(NULL, 'x');
SELECT REGEXP_LIKE('abc', 'b');
SELECT REGEXP_REPLACE('abc', 'b', 'x', 1);
SELECT 'Ünïcödé' REGEXP '^[[:alpha:]]+$', REGEXP_REPLACE('naïve café', '[^a-z ]', '?'), 'ü' REGEXP 'U';
SELECT 'line1\nline2' REGEXP '^line2', 'line1\nline2' REGEXP '(?m)^line2', 'a\nb' REGEXP 'a.b', 'a\nb' REGEXP '(?s)a.b';
SELECT 'aaa' REGEXP 'a{2,}', 'ab' REGEXP 'a|x', 'xyz' REGEXP '^(x|y|z)+$', 'aXb' REGEXP 'a[^a-z]b';
SELECT 'abc' REGEXP '^(?:a)(?=b)', 'abc' REGEXP '(a)\\1', 'aa' REGEXP '(a)\\1';
CREATE TABLE r (id INT PRIMARY KEY, s VARCHAR(50), cs VARCHAR(50) COLLATE utf8mb4_bin);
INSERT INTO r VALUES (1, 'Apple pie', 'Apple pie'), (2, 'banana split', 'banana split'), (3, 'Cherry 42', 'Cherry 42'), (4, 'date-2024', 'date-2024'), (5, NULL, NULL), (6, '', '');
SELECT id FROM r WHERE s REGEXP '^[a-c]' ORDER BY id;
SELECT id FROM r WHERE cs REGEXP '^[a-c]' ORDER BY id;
SELECT id FROM r WHERE s REGEXP '[0-9]+' ORDER BY id;
SELECT id FROM r WHERE s NOT REGEXP '[0-9]' ORDER BY id;
SELECT id FROM r WHERE s RLIKE 'PIE|SPLIT' ORDER BY id;
SELECT id FROM r WHERE cs RLIKE 'PIE|SPLIT' ORDER BY id;
SELECT id, REGEXP_SUBSTR(s, '[0-9]+') FROM r ORDER BY id;
SELECT id, REGEXP_REPLACE(s, '[aeiou]', '*') FROM r ORDER BY id;
SELECT id, REGEXP_REPLACE(cs, '[aeiou]', '*') FROM r ORDER BY id;
SELECT id, REGEXP_INSTR(s, ' ') FROM r ORDER BY id;
SELECT COUNT(*) FROM r WHERE s REGEXP '';
UPDATE r SET s = REGEXP_REPLACE(s, '\\s+', '_') WHERE s REGEXP '\\s';
SELECT id, s FROM r ORDER BY id;
SELECT id FROM r WHERE s REGEXP CONCAT('^', 'Apple');
SELECT s REGEXP 'a' AS m, COUNT(*) FROM r GROUP BY m ORDER BY m;
SELECT REGEXP_REPLACE('a.b.c', '\\.', '\\\\'), REGEXP_REPLACE('abc', '(b)', '[\\1]'), REGEXP_REPLACE('abc', 'B', 'x');
SELECT 'abc' REGEXP '^\\w+$', 'a-b' REGEXP '^\\w+$', '123' REGEXP '^\\d{3}$', 'x' REGEXP '\\D';
SELECT REGEXP_SUBSTR('a1b22c333', '[0-9]{3}'), REGEXP_INSTR('a1b22c333', '[0-9]{2}');
