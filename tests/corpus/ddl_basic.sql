-- Basic DDL: CREATE / ALTER / DROP / RENAME of tables and indexes, and the
-- SHOW and information_schema views of the result.

CREATE TABLE t1 (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, score INT DEFAULT 0);
CREATE TABLE t1 (id INT);
CREATE TABLE IF NOT EXISTS t1 (id INT);
SHOW WARNINGS;
CREATE TABLE t2 (a INT, b INT, PRIMARY KEY (a, b));
CREATE TABLE t3 (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE t4 (id INT AUTO_INCREMENT, v INT);
CREATE TABLE t4 (id INT NOT NULL, v INT);
CREATE TABLE t5 (id INT, id INT);
CREATE TABLE t6 (a INT NOT NULL, b CHAR(3), c DECIMAL(10,2), d DATE, e DATETIME, f DOUBLE, g TEXT, UNIQUE KEY uk_b (b), KEY idx_c (c));
SHOW TABLES;
SHOW FULL TABLES;
SHOW TABLES LIKE 't%';
SHOW TABLES LIKE 't1';
-- @ordered
SHOW COLUMNS FROM t1;
-- @ordered
DESCRIBE t6;
-- @ordered
SHOW FULL COLUMNS FROM t6;
-- @ordered
SHOW INDEX FROM t6;
-- @ordered
SHOW KEYS FROM t2;
SHOW CREATE TABLE t1;
SHOW CREATE TABLE t6;
SHOW CREATE TABLE t3;
SELECT table_name, table_type, engine FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name;
SELECT column_name, ordinal_position, column_default, is_nullable, data_type, column_type, column_key FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 't6' ORDER BY ordinal_position;
ALTER TABLE t1 ADD COLUMN email VARCHAR(50);
ALTER TABLE t1 ADD COLUMN created DATETIME NOT NULL DEFAULT '2024-01-01 00:00:00' AFTER name;
ALTER TABLE t1 ADD COLUMN first_col INT FIRST;
-- @ordered
SHOW COLUMNS FROM t1;
ALTER TABLE t1 DROP COLUMN first_col;
ALTER TABLE t1 DROP COLUMN no_such_column;
ALTER TABLE t1 MODIFY COLUMN email VARCHAR(100) NOT NULL DEFAULT '';
ALTER TABLE t1 CHANGE COLUMN score points INT NOT NULL DEFAULT 10;
ALTER TABLE t1 RENAME COLUMN points TO score;
ALTER TABLE t1 ALTER COLUMN score SET DEFAULT 5;
ALTER TABLE t1 ALTER COLUMN score DROP DEFAULT;
-- @ordered
SHOW COLUMNS FROM t1;
ALTER TABLE t1 ADD INDEX idx_name (name);
ALTER TABLE t1 ADD UNIQUE INDEX uk_email (email);
CREATE INDEX idx_score ON t1 (score);
CREATE UNIQUE INDEX uk_name_score ON t1 (name, score);
CREATE INDEX idx_score ON t1 (score);
-- @ordered
SHOW INDEX FROM t1;
DROP INDEX idx_score ON t1;
ALTER TABLE t1 DROP INDEX uk_name_score;
ALTER TABLE t1 DROP INDEX no_such_index;
ALTER TABLE t1 RENAME INDEX idx_name TO idx_name2;
-- @ordered
SHOW INDEX FROM t1;
ALTER TABLE t4 ADD PRIMARY KEY (id);
ALTER TABLE t4 ADD PRIMARY KEY (v);
ALTER TABLE t2 DROP PRIMARY KEY;
ALTER TABLE t2 ADD PRIMARY KEY (a);
RENAME TABLE t2 TO t2_renamed;
SHOW TABLES;
ALTER TABLE t2_renamed RENAME TO t2;
RENAME TABLE t2 TO t2a, t3 TO t3a;
RENAME TABLE t2a TO t2, t3a TO t3;
RENAME TABLE no_such_table TO t9;
INSERT INTO t1 (id, name, email) VALUES (1, 'ann', 'a@x');
INSERT INTO t1 (id, name, email, score) VALUES (1, 'ann', 'a@x', 1);
INSERT INTO t1 (id, name, email, score) VALUES (2, 'bob', 'a@x', 2);
INSERT INTO t1 (id, name, email, score) VALUES (2, 'bob', 'b@x', 2);
SELECT id, name, email, score FROM t1 ORDER BY id;
ALTER TABLE t1 ADD UNIQUE KEY uk_name (name);
INSERT INTO t1 (id, name, email, score) VALUES (3, 'ann', 'c@x', 3);
INSERT INTO t1 (id, name, email, score) VALUES (3, 'cid', 'c@x', 3);
SELECT COUNT(*) FROM t1;
TRUNCATE TABLE t1;
SELECT COUNT(*) FROM t1;
TRUNCATE t1;
DROP TABLE t5;
DROP TABLE IF EXISTS t5;
SHOW WARNINGS;
DROP TABLE t4, t6;
SHOW TABLES;
CREATE TABLE `select` (`from` INT, `order` VARCHAR(5));
INSERT INTO `select` (`from`, `order`) VALUES (1, 'a');
SELECT `from`, `order` FROM `select`;
DROP TABLE `select`;
CREATE TABLE MixedCase (Id INT);
INSERT INTO MixedCase VALUES (1);
SELECT Id FROM MixedCase;
SELECT id FROM MixedCase;
SELECT Id FROM mixedcase;
DROP TABLE MixedCase;
CREATE TABLE t7 (a INT) COMMENT = 'table comment';
ALTER TABLE t7 ADD COLUMN b INT COMMENT 'col comment';
SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 't7';
SELECT column_name, column_comment FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 't7' ORDER BY ordinal_position;
ALTER TABLE t7 ENGINE = InnoDB;
CREATE TABLE t8 (a INT) ENGINE = MyISAM;
CREATE TABLE e1 (a VARCHAR(65536));
CREATE TABLE e2 (a INT, KEY (b));
CREATE TABLE e3 (a INT PRIMARY KEY, b INT PRIMARY KEY);
CREATE TABLE e4 (a INT DEFAULT 'x');
CREATE TABLE e5 (a INT NOT NULL DEFAULT NULL);
CREATE TABLE e6 (a TEXT, KEY (a));
SHOW WARNINGS;
CREATE TABLE e7 (a INT) AUTO_INCREMENT = 100;
CREATE TABLE e8 (a VARCHAR(10) PRIMARY KEY, b INT UNIQUE KEY);
CREATE TABLE e9 (a INT) ENGINE = NoSuchEngine;
SHOW TABLES;
CREATE TABLE t10 (id INT AUTO_INCREMENT PRIMARY KEY, v INT) AUTO_INCREMENT = 100;
INSERT INTO t10 (v) VALUES (1);
SELECT id, v FROM t10;
ALTER TABLE t10 AUTO_INCREMENT = 500;
INSERT INTO t10 (v) VALUES (2);
SELECT id, v FROM t10 ORDER BY id;
-- @allow: auto-increment-control
SELECT auto_increment FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 't10';
CREATE DATABASE sqldiff_ddl_basic_other;
CREATE DATABASE sqldiff_ddl_basic_other;
CREATE DATABASE IF NOT EXISTS sqldiff_ddl_basic_other;
CREATE TABLE sqldiff_ddl_basic_other.x (a INT);
INSERT INTO sqldiff_ddl_basic_other.x VALUES (7);
SELECT a FROM sqldiff_ddl_basic_other.x;
SHOW TABLES FROM sqldiff_ddl_basic_other;
SHOW DATABASES LIKE 'sqldiff_ddl_basic%';
DROP DATABASE sqldiff_ddl_basic_other;
DROP DATABASE sqldiff_ddl_basic_other;
DROP DATABASE IF EXISTS sqldiff_ddl_basic_other;
SELECT schema_name, default_character_set_name, default_collation_name FROM information_schema.schemata WHERE schema_name = DATABASE();
SELECT DATABASE();
SELECT a FROM no_such_table;
CREATE TABLE t11 (a INT, b INT, c INT, INDEX (a, b), INDEX (c DESC));
-- @ordered
SHOW INDEX FROM t11;
CREATE TABLE t12 (id INT PRIMARY KEY, v INT CHECK (v > 0));
INSERT INTO t12 VALUES (1, 5);
INSERT INTO t12 VALUES (2, -5);
CREATE TABLE t13 (id INT PRIMARY KEY, lo INT, hi INT, CONSTRAINT lo_le_hi CHECK (lo <= hi));
INSERT INTO t13 VALUES (1, 1, 2);
INSERT INTO t13 VALUES (2, 3, 2);
SELECT constraint_name, check_clause FROM information_schema.check_constraints WHERE constraint_schema = DATABASE() ORDER BY constraint_name;
ALTER TABLE t13 DROP CONSTRAINT lo_le_hi;
INSERT INTO t13 VALUES (2, 3, 2);
SELECT * FROM t13 ORDER BY id;
-- A CHECK with a backslash literal (Django escapes \, % and _ this way).
CREATE TABLE ck_bs (name VARCHAR(10), CONSTRAINT ck_bs_c CHECK (name <> '\\'));
INSERT INTO ck_bs VALUES ('a');
INSERT INTO ck_bs VALUES ('\\');
SELECT check_clause FROM information_schema.check_constraints WHERE constraint_schema = DATABASE() AND table_name = 'ck_bs';
-- Expression defaults that are constants.
CREATE TABLE xd (a INT);
INSERT INTO xd VALUES (1);
ALTER TABLE xd ADD COLUMN h DOUBLE PRECISION DEFAULT (PI()) NOT NULL;
INSERT INTO xd (a) VALUES (2);
SELECT a, h FROM xd ORDER BY a;
CREATE TABLE xd2 (a INT, b INT DEFAULT (1 + 2), c VARCHAR(10) DEFAULT (CONCAT('x', 'y')), d DECIMAL(6,2) DEFAULT (ROUND(10 / 3, 2)));
INSERT INTO xd2 (a) VALUES (1);
SELECT * FROM xd2;
