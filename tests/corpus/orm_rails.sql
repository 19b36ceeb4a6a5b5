-- What Rails' mysql2 / trilogy adapters send: connection variables,
-- schema_migrations and ar_internal_metadata, schema dumping and
-- introspection (SHOW FULL FIELDS, SHOW KEYS, SHOW TABLE STATUS, foreign
-- and check constraints), advisory locks, savepoints, query shapes.

SET NAMES utf8mb4;
SET @@SESSION.sql_mode = CONCAT(REPLACE(REPLACE(REPLACE(@@sql_mode, 'STRICT_TRANS_TABLES', ''), 'STRICT_ALL_TABLES', ''), 'TRADITIONAL', ''), ',STRICT_ALL_TABLES'), @@SESSION.sql_auto_is_null = 0, @@SESSION.wait_timeout = 2147483;
SELECT @@SESSION.sql_mode;
SELECT @@SESSION.wait_timeout, @@SESSION.sql_auto_is_null;
SET @@SESSION.sql_mode = DEFAULT;
-- @allow: version
SELECT VERSION();
SELECT @@version LIKE '%MariaDB%';
SELECT GET_LOCK('3116463475298493925', 0);
CREATE TABLE `schema_migrations` (`version` varchar(255) NOT NULL PRIMARY KEY);
CREATE TABLE `ar_internal_metadata` (`key` varchar(255) NOT NULL PRIMARY KEY, `value` varchar(255), `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL);
SELECT `ar_internal_metadata`.* FROM `ar_internal_metadata` WHERE `ar_internal_metadata`.`key` = 'environment' ORDER BY `ar_internal_metadata`.`key` ASC LIMIT 1;
INSERT INTO `ar_internal_metadata` (`key`, `value`, `created_at`, `updated_at`) VALUES ('environment', 'test', '2024-01-01 00:00:00.000000', '2024-01-01 00:00:00.000000');
SELECT `schema_migrations`.`version` FROM `schema_migrations` ORDER BY `schema_migrations`.`version` ASC;
CREATE TABLE `users` (`id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, `email` varchar(255) NOT NULL, `name` varchar(255), `admin` tinyint(1) DEFAULT FALSE, `score` decimal(8,2) DEFAULT 0.0, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL);
CREATE UNIQUE INDEX `index_users_on_email` ON `users` (`email`);
CREATE TABLE `posts` (`id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, `user_id` bigint NOT NULL, `title` varchar(255), `body` text, `published` tinyint(1) DEFAULT TRUE NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, INDEX `index_posts_on_user_id` (`user_id`), CONSTRAINT `fk_rails_5b5ddfd518` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`), CONSTRAINT `title_present` CHECK (char_length(`title`) > 0));
INSERT INTO `schema_migrations` (`version`) VALUES ('20240101000000'), ('20240102000000');
-- @allow: node-local-locks
SELECT RELEASE_LOCK('3116463475298493925');
SELECT table_name FROM information_schema.tables WHERE table_schema = database() AND table_type = 'BASE TABLE' ORDER BY table_name;
SELECT table_name FROM information_schema.tables WHERE table_schema = database() AND table_name = 'users' AND table_type = 'BASE TABLE';
SELECT table_name FROM information_schema.tables WHERE table_schema = database() AND table_type = 'VIEW';
-- @ordered
SHOW FULL FIELDS FROM `users`;
-- @ordered
SHOW FULL FIELDS FROM `posts`;
-- @ordered
SHOW KEYS FROM `users`;
-- @ordered
SHOW KEYS FROM `posts`;
SHOW CREATE TABLE `posts`;
SHOW TABLE STATUS LIKE 'no_such_table';
SELECT table_comment FROM information_schema.tables WHERE table_schema = database() AND table_name = 'users';
SELECT column_name FROM information_schema.statistics WHERE index_name = 'PRIMARY' AND table_schema = database() AND table_name = 'users' ORDER BY seq_in_index;
SELECT fk.referenced_table_name AS 'to_table', fk.referenced_column_name AS 'primary_key', fk.column_name AS 'column', fk.constraint_name AS 'name', rc.update_rule AS 'on_update', rc.delete_rule AS 'on_delete' FROM information_schema.referential_constraints rc JOIN information_schema.key_column_usage fk USING (constraint_schema, constraint_name) WHERE fk.referenced_column_name IS NOT NULL AND fk.table_schema = database() AND fk.table_name = 'posts' AND rc.constraint_schema = database() AND rc.table_name = 'posts';
SELECT cc.constraint_name AS 'name', cc.check_clause AS 'expression' FROM information_schema.check_constraints cc JOIN information_schema.table_constraints tc USING (constraint_schema, constraint_name) WHERE tc.table_schema = database() AND tc.table_name = 'posts' AND cc.constraint_schema = database() AND tc.table_name = cc.table_name;
INSERT INTO `users` (`email`, `name`, `created_at`, `updated_at`) VALUES ('ann@example.com', 'Ann', '2024-02-01 10:00:00.123456', '2024-02-01 10:00:00.123456');
INSERT INTO `users` (`email`, `name`, `admin`, `created_at`, `updated_at`) VALUES ('bob@example.com', 'Bob', TRUE, '2024-02-02 10:00:00', '2024-02-02 10:00:00');
INSERT INTO `users` (`email`, `name`, `created_at`, `updated_at`) VALUES ('ANN@example.com', 'Ann 2', '2024-02-03 10:00:00', '2024-02-03 10:00:00');
SELECT `users`.* FROM `users` WHERE `users`.`id` = 1 LIMIT 1;
SELECT `users`.* FROM `users` WHERE `users`.`email` = 'ann@example.com' LIMIT 1;
SELECT 1 AS one FROM `users` WHERE `users`.`email` = BINARY 'ANN@example.com' LIMIT 1;
SELECT 1 AS one FROM `users` WHERE `users`.`email` = 'ANN@example.com' LIMIT 1;
SELECT COUNT(*) FROM `users` WHERE `users`.`admin` = TRUE;
SELECT `users`.`id` FROM `users` WHERE `users`.`admin` = FALSE ORDER BY `users`.`id` ASC;
BEGIN;
SAVEPOINT active_record_1;
INSERT INTO `posts` (`user_id`, `title`, `body`, `created_at`, `updated_at`) VALUES (1, 'Hello', 'World', '2024-02-05 00:00:00', '2024-02-05 00:00:00');
RELEASE SAVEPOINT active_record_1;
COMMIT;
BEGIN;
SAVEPOINT active_record_1;
INSERT INTO `posts` (`user_id`, `title`, `created_at`, `updated_at`) VALUES (1, '', '2024-02-06 00:00:00', '2024-02-06 00:00:00');
ROLLBACK TO SAVEPOINT active_record_1;
INSERT INTO `posts` (`user_id`, `title`, `created_at`, `updated_at`) VALUES (2, 'Second', '2024-02-06 00:00:00', '2024-02-06 00:00:00');
COMMIT;
INSERT INTO `posts` (`user_id`, `title`, `created_at`, `updated_at`) VALUES (42, 'Orphan', '2024-02-06 00:00:00', '2024-02-06 00:00:00');
SELECT `posts`.* FROM `posts` WHERE `posts`.`user_id` = 1 ORDER BY `posts`.`created_at` DESC;
SELECT `posts`.`id`, `posts`.`title` FROM `posts` INNER JOIN `users` ON `users`.`id` = `posts`.`user_id` WHERE `users`.`admin` = TRUE;
SELECT `users`.`id`, COUNT(`posts`.`id`) AS posts_count FROM `users` LEFT OUTER JOIN `posts` ON `posts`.`user_id` = `users`.`id` GROUP BY `users`.`id` ORDER BY `users`.`id`;
SELECT `users`.* FROM `users` WHERE `users`.`id` IN (SELECT `posts`.`user_id` FROM `posts`) ORDER BY `users`.`id`;
SELECT `posts`.* FROM `posts` WHERE `posts`.`published` = TRUE AND (`posts`.`title` LIKE '%ell%') LIMIT 10 OFFSET 0;
UPDATE `users` SET `users`.`score` = COALESCE(`users`.`score`, 0) + 2.5 WHERE `users`.`id` = 1;
UPDATE `users` SET `name` = 'Robert', `updated_at` = '2024-03-01 00:00:00' WHERE `users`.`id` = 2;
SELECT `users`.`id`, `users`.`name`, `users`.`score`, `users`.`updated_at` FROM `users` ORDER BY `users`.`id`;
UPDATE `posts` SET `posts`.`published` = FALSE WHERE `posts`.`id` IN (SELECT `id` FROM (SELECT `posts`.`id` FROM `posts` WHERE `posts`.`user_id` = 2) __active_record_temp);
SELECT `posts`.`id`, `posts`.`published` FROM `posts` ORDER BY `posts`.`id`;
DELETE FROM `users` WHERE `users`.`id` = 1;
DELETE FROM `posts` WHERE `posts`.`user_id` = 1;
DELETE FROM `users` WHERE `users`.`id` = 1;
SELECT MAX(`users`.`created_at`), MIN(`users`.`score`), SUM(`users`.`score`) FROM `users`;
SELECT DISTINCT `users`.`admin` FROM `users`;
ALTER TABLE `users` ADD `bio` text;
ALTER TABLE `users` CHANGE `name` `name` varchar(100) DEFAULT NULL;
ALTER TABLE `posts` RENAME INDEX `index_posts_on_user_id` TO `index_posts_on_author`;
ALTER TABLE `posts` DROP CONSTRAINT `title_present`;
CREATE TABLE `tags` (`id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, `name` varchar(255)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO `tags` (`name`) VALUES ('Ruby'), ('ruby');
SELECT `tags`.`id` FROM `tags` WHERE `tags`.`name` = 'RUBY' ORDER BY `tags`.`id`;
-- @allow: auto-increment-control
SHOW CREATE TABLE `tags`;
DROP TABLE `tags`;
