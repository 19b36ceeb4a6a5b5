-- What SQLAlchemy's mysql / mariadb dialects send: first-connect probes
-- (sql_mode, case sensitivity, collation and unicode checks), reflection
-- (SHOW CREATE TABLE, SHOW FULL TABLES, DESCRIBE, information_schema),
-- and ORM statement shapes, MariaDB sequences.

SELECT DATABASE();
SHOW VARIABLES LIKE 'sql_mode';
SHOW VARIABLES LIKE 'lower_case_table_names';
-- @allow: mysql8-names
SELECT @@transaction_isolation;
SELECT @@tx_isolation;
SHOW VARIABLES LIKE 'character_set%';
SHOW VARIABLES LIKE 'collation%';
SELECT CAST('test plain returns' AS CHAR(60)) AS anon_1;
SELECT CAST('test unicode returns' AS CHAR(60)) AS anon_1;
SELECT CAST('test collated returns' AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin AS anon_1;
SHOW COLLATION WHERE `Charset` = 'utf8mb4' AND `Collation` = 'utf8mb4_bin';
SELECT 1;
SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ;
CREATE TABLE user_account (id INTEGER NOT NULL AUTO_INCREMENT, name VARCHAR(30) NOT NULL, fullname VARCHAR(100), created_at DATETIME DEFAULT now(), PRIMARY KEY (id));
CREATE TABLE address (id INTEGER NOT NULL AUTO_INCREMENT, user_id INTEGER NOT NULL, email_address VARCHAR(100) NOT NULL, PRIMARY KEY (id), FOREIGN KEY(user_id) REFERENCES user_account (id) ON DELETE CASCADE);
CREATE INDEX ix_address_email_address ON address (email_address);
SHOW FULL TABLES FROM `sqldiff_orm_sqlalchemy`;
SELECT table_name FROM information_schema.tables WHERE table_schema = 'sqldiff_orm_sqlalchemy' AND table_type = 'BASE TABLE' ORDER BY table_name;
SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'sqldiff_orm_sqlalchemy' AND table_name = 'user_account';
DESCRIBE `sqldiff_orm_sqlalchemy`.`user_account`;
DESCRIBE `sqldiff_orm_sqlalchemy`.`no_such_table`;
SHOW CREATE TABLE `sqldiff_orm_sqlalchemy`.`user_account`;
SHOW CREATE TABLE `sqldiff_orm_sqlalchemy`.`address`;
SELECT TABLE_COMMENT FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'sqldiff_orm_sqlalchemy' AND TABLE_NAME = 'address';
SELECT column_name, column_default, is_nullable, data_type, column_type, extra FROM information_schema.columns WHERE table_schema = 'sqldiff_orm_sqlalchemy' AND table_name = 'address' ORDER BY ordinal_position;
SELECT index_name, non_unique, seq_in_index, column_name, nullable FROM information_schema.statistics WHERE table_schema = 'sqldiff_orm_sqlalchemy' AND table_name = 'address' ORDER BY index_name, seq_in_index;
SELECT 1 FROM information_schema.schemata WHERE schema_name = 'sqldiff_orm_sqlalchemy';
INSERT INTO user_account (name, fullname) VALUES ('spongebob', 'Spongebob Squarepants');
INSERT INTO user_account (name, fullname) VALUES ('sandy', 'Sandy Cheeks'), ('patrick', 'Patrick Star');
INSERT INTO address (user_id, email_address) VALUES (1, 'spongebob@sqlalchemy.org'), (2, 'sandy@sqlalchemy.org'), (2, 'sandy@squirrelpower.org');
SELECT user_account.id, user_account.name, user_account.fullname FROM user_account WHERE user_account.name = 'spongebob';
SELECT user_account.id, user_account.name, user_account.fullname FROM user_account WHERE user_account.name IN ('spongebob', 'sandy') ORDER BY user_account.id;
SELECT user_account.name, address.email_address FROM user_account JOIN address ON user_account.id = address.user_id ORDER BY address.id;
SELECT user_account.name, count(address.id) AS count_1 FROM user_account LEFT OUTER JOIN address ON user_account.id = address.user_id GROUP BY user_account.name ORDER BY user_account.name;
SELECT anon_1.name FROM (SELECT user_account.name AS name FROM user_account WHERE user_account.id > 1) AS anon_1 ORDER BY anon_1.name;
SELECT user_account.name FROM user_account WHERE EXISTS (SELECT 1 FROM address WHERE user_account.id = address.user_id AND address.email_address LIKE concat('%', 'squirrel', '%'));
SELECT count(*) AS count_1 FROM (SELECT user_account.id AS user_account_id FROM user_account) AS anon_1;
SELECT user_account.id FROM user_account ORDER BY user_account.id LIMIT 1, 18446744073709551615;
SELECT user_account.id FROM user_account ORDER BY user_account.id LIMIT 2 OFFSET 1;
UPDATE user_account SET fullname='Sandy Squirrel' WHERE user_account.name = 'sandy';
DELETE FROM user_account WHERE user_account.name = 'patrick';
SELECT address.user_id, count(*) FROM address GROUP BY address.user_id ORDER BY address.user_id;
DELETE FROM user_account WHERE user_account.id = 2;
SELECT count(*) FROM address;
SELECT user_account.name FROM user_account WHERE user_account.created_at IS NOT NULL ORDER BY user_account.id;
INSERT INTO user_account (name, fullname) VALUES ('x', 'y') RETURNING id, name;
SELECT @@sql_mode;
CREATE SEQUENCE order_seq START WITH 100 INCREMENT BY 10;
SELECT NEXTVAL(order_seq), NEXTVAL(order_seq);
-- @allow: node-local-sequence-cache
SELECT NEXT VALUE FOR order_seq;
-- @allow: node-local-sequence-cache
SELECT LASTVAL(order_seq);
-- @allow: node-local-sequence-cache
SELECT PREVIOUS VALUE FOR order_seq;
-- @allow: node-local-sequence-cache
SELECT SETVAL(order_seq, 1000);
-- @allow: node-local-sequence-cache
SELECT NEXTVAL(order_seq);
SHOW FULL TABLES;
SHOW CREATE SEQUENCE order_seq;
DROP SEQUENCE order_seq;
XA RECOVER;
SELECT GET_LOCK('alembic', 0), IS_FREE_LOCK('alembic'), RELEASE_LOCK('alembic'), RELEASE_LOCK('alembic');
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
INSERT INTO alembic_version (version_num) VALUES ('1a2b3c4d');
UPDATE alembic_version SET version_num='5e6f7a8b' WHERE alembic_version.version_num = '1a2b3c4d';
SELECT alembic_version.version_num FROM alembic_version;
