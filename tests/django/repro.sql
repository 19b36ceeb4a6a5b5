-- The reproducers of TRIAGE.md, in its order (numbers match its sections),
-- for the mariadb client against an empty database on each server:
--   mariadb -h127.0.0.1 -P PORT -uroot -p -e 'DROP DATABASE IF EXISTS rp; CREATE DATABASE rp'
--   mariadb --default-character-set=utf8mb4 -h127.0.0.1 -P PORT -uroot -p --force -vvv rp < tests/django/repro.sql
-- (utf8mb4 as Django's connections: MariaDB answers #20 differently on utf8mb3)
-- MariaDB 10.11 accepts every statement (#9 with a note); what trireme
-- answers instead is in TRIAGE.md. #5 (CLIENT_FOUND_ROWS) needs a client
-- flag the mariadb client cannot set: see TRIAGE.md.
-- 1
CREATE TABLE r1 (t time(6) NOT NULL);
SELECT CAST('10:00:00' AS TIME);
-- 2
CREATE TABLE r2 (d numeric(32, 30) NOT NULL);
-- 3
CREATE TABLE r3 (u uuid NOT NULL PRIMARY KEY);
-- 4
CREATE TABLE r7 (s varchar(10) COLLATE utf8mb4_esperanto_ci);
CREATE TABLE r35 (s varchar(10) CHARACTER SET latin1 COLLATE latin1_general_cs);
-- 6
CREATE TABLE r5 (id int PRIMARY KEY, name varchar(10));
CREATE TABLE r36 (id int PRIMARY KEY, book_id int);
INSERT INTO r5 VALUES (1, 'a'), (2, 'b');
INSERT INTO r36 VALUES (1, 1);
SELECT MAX(CASE WHEN EXISTS(SELECT 1 FROM r36 U0 WHERE U0.book_id = r5.id) THEN r5.id END) FROM r5;
-- 7
SELECT STDDEV_POP(id), VAR_POP(id), STDDEV_SAMP(id), VAR_SAMP(id) FROM r5;
-- 8
EXPLAIN SELECT id FROM r5 WHERE name = 'x';
EXPLAIN FORMAT=JSON SELECT id FROM r5 WHERE name = 'x';
ANALYZE FORMAT=JSON SELECT id FROM r5;
-- 9
CREATE TABLE r15 (a int);
ALTER TABLE r15 DROP CONSTRAINT IF EXISTS nope;
-- 10
CREATE TABLE r9 (a int);
ALTER TABLE r9 COMMENT = 'a comment';
-- 11
CREATE TABLE r8 (a int, INDEX r8_a (a));
ALTER TABLE r8 RENAME INDEX r8_a TO r8_b;
-- 12
CREATE TABLE r34a (id int PRIMARY KEY, name varchar(10), UNIQUE KEY (name));
CREATE TABLE r34b (id int PRIMARY KEY, a_id int, a_name varchar(10),
  FOREIGN KEY (a_id) REFERENCES r34a (id), FOREIGN KEY (a_name) REFERENCES r34a (name));
ALTER TABLE r34a RENAME COLUMN name TO renamed;
RENAME TABLE r34a TO r34c;
SELECT column_name, referenced_table_name, referenced_column_name
  FROM information_schema.key_column_usage
  WHERE table_schema = DATABASE() AND table_name = 'r34b' AND referenced_table_name IS NOT NULL ORDER BY 1;
-- 13
SELECT 'ab' LIKE BINARY 'a%' AND 1;
SELECT 'ab' LIKE BINARY 'a%' AND NOT ('ab' LIKE BINARY 'x%');
-- 14 (compare the result's column type, e.g. mariadb --column-type-info or PyMySQL's cursor.description)
CREATE TABLE r37 (id int PRIMARY KEY, o datetime(6) NOT NULL);
SELECT COALESCE(MAX(o), CURRENT_TIMESTAMP) AS c FROM r37;
-- 15
CREATE TABLE r10a (name varchar(10), CONSTRAINT r10a_c CHECK (name <> '\\'));
INSERT INTO r10a VALUES ('a');
-- 16
SELECT id FROM r5 WHERE ((SELECT 1 FROM r5 WHERE id > 7) UNION (SELECT 2 FROM r5 WHERE id < 2)) IS NOT NULL;
-- 17
CREATE TABLE r33 (pink int, m int GENERATED ALWAYS AS (pink + pink) STORED);
ALTER TABLE r33 RENAME COLUMN pink TO renamed_pink;
-- 18
CREATE TABLE r42 (id int PRIMARY KEY, name varchar(10) CHECK (name <> 'x'));
ALTER TABLE r42 RENAME COLUMN name TO nm;
INSERT INTO r42 VALUES (1, 'y');
SELECT constraint_name, check_clause FROM information_schema.check_constraints
  WHERE constraint_schema = DATABASE() AND table_name = 'r42';
-- 19
CREATE TABLE r41 (a int, b int, INDEX i41 (a ASC, b DESC));
SHOW INDEX FROM r41;
SELECT column_name, collation FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'r41' ORDER BY seq_in_index;
-- 20
SELECT JSON_UNQUOTE(JSON_EXTRACT('{"version": "stable"}', '$.version')) = JSON_EXTRACT('"stable"', '$') AS eq;
CREATE TABLE r40 (id int PRIMARY KEY, data json NOT NULL,
  CONSTRAINT c40 CHECK (JSON_UNQUOTE(JSON_EXTRACT(data, '$."version"')) = JSON_EXTRACT('"stable"', '$')));
INSERT INTO r40 VALUES (1, '{"version": "stable"}');
-- 21
SELECT id FROM r5 ORDER BY id LIMIT 18446744073709551615 OFFSET 5;
-- 22
CREATE TABLE r13 (a int);
ALTER TABLE r13 ADD COLUMN h double precision DEFAULT (PI()) NOT NULL;
-- 23
CREATE TABLE r14 (field int);
ALTER TABLE r14 RENAME COLUMN field TO FiElD;
-- beyond the issue's list
CREATE TABLE r50 (id int AUTO_INCREMENT PRIMARY KEY, number int UNIQUE, name varchar(10));
INSERT INTO r50 (number, name) VALUES (1, 'a'), (2, 'b') ON DUPLICATE KEY UPDATE name = VALUE(name);
SELECT CHAR(74 USING utf16);
CREATE TABLE r51 (s varchar(10) COLLATE utf8mb4_swedish_ci);
