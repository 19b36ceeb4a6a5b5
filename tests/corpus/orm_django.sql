-- What Django's MySQL backend sends: connection set-up and server probes,
-- migrations bookkeeping, the introspection queries (inspectdb, migrate's
-- constraint checks), and typical ORM query shapes (LIMIT 21, EXISTS as
-- SELECT (1) ... LIMIT 1, RETURNING on MariaDB, CONVERT_TZ date trunc).

SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;
-- @allow: version
SELECT VERSION();
SELECT @@sql_mode, @@default_storage_engine, @@sql_auto_is_null, @@lower_case_table_names, CONVERT_TZ('2001-01-01 01:00:00', 'UTC', 'UTC') IS NOT NULL;
SELECT VERSION() LIKE '10.11.%', VERSION() LIKE '%MariaDB%';
SELECT @@SQL_AUTO_IS_NULL;
SET SQL_AUTO_IS_NULL = 0;
SELECT @@sql_mode LIKE '%STRICT_TRANS_TABLES%' OR @@sql_mode LIKE '%STRICT_ALL_TABLES%';
SELECT engine FROM information_schema.engines WHERE support = 'DEFAULT';
SELECT @@tx_isolation;
CREATE TABLE `django_migrations` (`id` bigint AUTO_INCREMENT NOT NULL PRIMARY KEY, `app` varchar(255) NOT NULL, `name` varchar(255) NOT NULL, `applied` datetime(6) NOT NULL);
SHOW FULL TABLES;
INSERT INTO `django_migrations` (`app`, `name`, `applied`) VALUES ('contenttypes', '0001_initial', '2024-01-01 00:00:00.000000');
INSERT INTO `django_migrations` (`app`, `name`, `applied`) VALUES ('auth', '0001_initial', '2024-01-01 00:00:01.500000') RETURNING `django_migrations`.`id`;
SELECT `django_migrations`.`id`, `django_migrations`.`app`, `django_migrations`.`name`, `django_migrations`.`applied` FROM `django_migrations`;
CREATE TABLE `auth_user` (`id` integer AUTO_INCREMENT NOT NULL PRIMARY KEY, `password` varchar(128) NOT NULL, `last_login` datetime(6) NULL, `is_superuser` bool NOT NULL, `username` varchar(150) NOT NULL UNIQUE, `first_name` varchar(150) NOT NULL, `email` varchar(254) NOT NULL, `is_active` bool NOT NULL, `date_joined` datetime(6) NOT NULL);
CREATE TABLE `blog_post` (`id` bigint AUTO_INCREMENT NOT NULL PRIMARY KEY, `title` varchar(200) NOT NULL, `body` longtext NOT NULL, `published` datetime(6) NULL, `views` integer UNSIGNED NOT NULL CHECK (`views` >= 0), `rating` numeric(3, 1) NULL, `author_id` integer NOT NULL, `meta` json NOT NULL CHECK (JSON_VALID(`meta`)));
ALTER TABLE `blog_post` ADD CONSTRAINT `blog_post_author_id_dd7a8485_fk_auth_user_id` FOREIGN KEY (`author_id`) REFERENCES `auth_user` (`id`);
CREATE INDEX `blog_post_published_0a6c1e54` ON `blog_post` (`published`);
ALTER TABLE `blog_post` ADD CONSTRAINT `blog_post_title_author_uniq` UNIQUE (`title`, `author_id`);
SELECT table_collation FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'blog_post';
SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, extra, column_default, CASE WHEN collation_name = 'utf8mb4_general_ci' THEN NULL ELSE collation_name END AS collation_name, CASE WHEN column_type LIKE '% unsigned' THEN 1 ELSE 0 END AS is_unsigned, column_comment FROM information_schema.columns WHERE table_name = 'blog_post' AND table_schema = DATABASE();
SELECT * FROM `blog_post` LIMIT 1;
SELECT column_name, referenced_column_name, referenced_table_name FROM information_schema.key_column_usage WHERE table_name = 'blog_post' AND table_schema = DATABASE() AND referenced_table_name IS NOT NULL AND referenced_column_name IS NOT NULL;
SELECT engine FROM information_schema.tables WHERE table_name = 'blog_post' AND table_schema = DATABASE();
SELECT kc.`constraint_name`, kc.`column_name`, kc.`referenced_table_name`, kc.`referenced_column_name`, c.`constraint_type` FROM information_schema.key_column_usage AS kc, information_schema.table_constraints AS c WHERE kc.table_schema = DATABASE() AND (kc.referenced_table_schema = DATABASE() OR kc.referenced_table_schema IS NULL) AND c.table_schema = kc.table_schema AND c.constraint_name = kc.constraint_name AND c.constraint_type != 'CHECK' AND c.table_name = kc.table_name AND kc.table_name = 'blog_post' ORDER BY kc.`ordinal_position`;
SELECT c.constraint_name AS name, c.check_clause AS clause FROM information_schema.check_constraints AS c WHERE c.constraint_schema = DATABASE() AND c.table_name = 'blog_post';
-- @ordered
SHOW INDEX FROM `blog_post`;
SELECT c.constraint_name FROM information_schema.table_constraints AS c WHERE c.table_schema = DATABASE() AND c.table_name = 'blog_post' AND c.constraint_type = 'CHECK';
INSERT INTO `auth_user` (`password`, `last_login`, `is_superuser`, `username`, `first_name`, `email`, `is_active`, `date_joined`) VALUES ('pbkdf2_sha256$x', NULL, 1, 'admin', '', 'admin@example.com', 1, '2024-01-01 10:00:00.000000') RETURNING `auth_user`.`id`;
INSERT INTO `auth_user` (`password`, `last_login`, `is_superuser`, `username`, `first_name`, `email`, `is_active`, `date_joined`) VALUES ('x', NULL, 0, 'ann', 'Ann', 'ann@example.com', 1, '2024-01-02 10:00:00.000000'), ('x', NULL, 0, 'bob', 'Bob', 'bob@example.com', 0, '2024-01-03 10:00:00.000000');
INSERT INTO `auth_user` (`password`, `last_login`, `is_superuser`, `username`, `first_name`, `email`, `is_active`, `date_joined`) VALUES ('x', NULL, 0, 'ADMIN', '', '', 1, '2024-01-04 10:00:00.000000');
SELECT `auth_user`.`id`, `auth_user`.`password`, `auth_user`.`last_login`, `auth_user`.`is_superuser`, `auth_user`.`username`, `auth_user`.`first_name`, `auth_user`.`email`, `auth_user`.`is_active`, `auth_user`.`date_joined` FROM `auth_user` WHERE `auth_user`.`username` = 'admin' LIMIT 21;
SELECT (1) AS `a` FROM `auth_user` WHERE `auth_user`.`username` = 'ann' LIMIT 1;
SELECT COUNT(*) AS `__count` FROM `auth_user` WHERE `auth_user`.`is_active`;
SELECT `auth_user`.`id` FROM `auth_user` WHERE `auth_user`.`email` LIKE '%example.com' ORDER BY `auth_user`.`id` ASC;
SELECT `auth_user`.`id` FROM `auth_user` WHERE `auth_user`.`username` LIKE 'AD%' ORDER BY `auth_user`.`id` ASC;
SELECT `auth_user`.`id` FROM `auth_user` WHERE `auth_user`.`username` LIKE BINARY 'ad%' ORDER BY `auth_user`.`id` ASC;
SELECT `auth_user`.`id` FROM `auth_user` WHERE `auth_user`.`first_name` IS NULL;
INSERT INTO `blog_post` (`title`, `body`, `published`, `views`, `rating`, `author_id`, `meta`) VALUES ('Hello', 'First post', '2024-03-10 23:30:00.000000', 10, 4.5, 1, '{"tags": ["intro"]}') RETURNING `blog_post`.`id`;
INSERT INTO `blog_post` (`title`, `body`, `published`, `views`, `rating`, `author_id`, `meta`) VALUES ('Second', 'More', '2024-03-11 08:00:00.000000', 0, NULL, 2, '{}'), ('Draft', '', NULL, 3, 2.0, 2, '{"draft": true}');
INSERT INTO `blog_post` (`title`, `body`, `published`, `views`, `rating`, `author_id`, `meta`) VALUES ('Bad', '', NULL, 1, NULL, 999, '{}');
INSERT INTO `blog_post` (`title`, `body`, `published`, `views`, `rating`, `author_id`, `meta`) VALUES ('Hello', 'dup', NULL, 1, NULL, 1, '{}');
SELECT `blog_post`.`id`, `blog_post`.`title`, `auth_user`.`username` FROM `blog_post` INNER JOIN `auth_user` ON (`blog_post`.`author_id` = `auth_user`.`id`) WHERE `auth_user`.`is_active` ORDER BY `blog_post`.`id` DESC;
SELECT `auth_user`.`username`, COUNT(`blog_post`.`id`) AS `n` FROM `auth_user` LEFT OUTER JOIN `blog_post` ON (`auth_user`.`id` = `blog_post`.`author_id`) GROUP BY `auth_user`.`id` ORDER BY `n` DESC, `auth_user`.`username` ASC;
SELECT CAST(DATE_FORMAT(CONVERT_TZ(`blog_post`.`published`, 'UTC', 'Europe/Paris'), '%Y-%m-%d 00:00:00') AS DATETIME) AS `day`, COUNT(`blog_post`.`id`) AS `c` FROM `blog_post` WHERE `blog_post`.`published` IS NOT NULL GROUP BY 1 ORDER BY 1;
SELECT CAST(DATE_FORMAT(`blog_post`.`published`, '%Y-%m-01 00:00:00') AS DATETIME) AS `month` FROM `blog_post` WHERE `blog_post`.`published` IS NOT NULL GROUP BY 1;
SELECT EXTRACT(YEAR FROM `blog_post`.`published`) AS `y`, WEEKDAY(`blog_post`.`published`) + 1 AS `wd`, EXTRACT(WEEK FROM `blog_post`.`published`) AS `w` FROM `blog_post` WHERE `blog_post`.`id` = 1;
SELECT `blog_post`.`id` FROM `blog_post` WHERE JSON_CONTAINS(`blog_post`.`meta`, '"intro"', '$.tags');
SELECT `blog_post`.`id` FROM `blog_post` WHERE JSON_UNQUOTE(JSON_EXTRACT(`blog_post`.`meta`, '$."draft"')) = 'true';
SELECT `blog_post`.`id` FROM `blog_post` WHERE (JSON_TYPE(JSON_EXTRACT(`blog_post`.`meta`, '$."draft"')) IS NOT NULL) ORDER BY `blog_post`.`id`;
UPDATE `blog_post` SET `views` = (`blog_post`.`views` + 1) WHERE `blog_post`.`id` = 1;
UPDATE `blog_post` SET `rating` = CASE WHEN (`blog_post`.`id` = 1) THEN 5.0 WHEN (`blog_post`.`id` = 2) THEN 3.5 ELSE NULL END WHERE `blog_post`.`id` IN (1, 2);
SELECT `blog_post`.`id`, `blog_post`.`views`, `blog_post`.`rating` FROM `blog_post` ORDER BY `blog_post`.`id`;
UPDATE `blog_post` SET `views` = (`blog_post`.`views` - 100) WHERE `blog_post`.`id` = 1;
BEGIN;
SELECT `auth_user`.`id`, `auth_user`.`username` FROM `auth_user` WHERE `auth_user`.`id` = 2 FOR UPDATE;
UPDATE `auth_user` SET `last_login` = '2024-05-05 05:05:05.000000' WHERE `auth_user`.`id` = 2;
COMMIT;
SELECT `auth_user`.`id` FROM `auth_user` WHERE `auth_user`.`id` = 2 FOR UPDATE SKIP LOCKED;
SELECT `auth_user`.`id` FROM `auth_user` WHERE `auth_user`.`id` = 2 FOR UPDATE NOWAIT;
BEGIN;
SAVEPOINT `s140_x1`;
UPDATE `auth_user` SET `first_name` = 'Bobby' WHERE `auth_user`.`id` = 3;
RELEASE SAVEPOINT `s140_x1`;
SAVEPOINT `s140_x2`;
UPDATE `auth_user` SET `first_name` = 'Nope' WHERE `auth_user`.`id` = 3;
ROLLBACK TO SAVEPOINT `s140_x2`;
COMMIT;
SELECT `auth_user`.`first_name` FROM `auth_user` WHERE `auth_user`.`id` = 3;
DELETE FROM `blog_post` WHERE `blog_post`.`id` IN (3) RETURNING `blog_post`.`id`, `blog_post`.`title`;
DELETE FROM `auth_user` WHERE `auth_user`.`id` IN (1);
SELECT `django_migrations`.`app`, COUNT(*) FROM `django_migrations` GROUP BY `django_migrations`.`app` ORDER BY `django_migrations`.`app`;
SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name;
ALTER TABLE `blog_post` DROP FOREIGN KEY `blog_post_author_id_dd7a8485_fk_auth_user_id`;
ALTER TABLE `blog_post` DROP INDEX `blog_post_title_author_uniq`;
ALTER TABLE `blog_post` ADD COLUMN `slug` varchar(50) DEFAULT '' NOT NULL;
ALTER TABLE `blog_post` ALTER COLUMN `slug` DROP DEFAULT;
ALTER TABLE `blog_post` MODIFY `title` varchar(300) NOT NULL;
ALTER TABLE `blog_post` RENAME COLUMN `body` TO `content`;
-- @allow: auto-increment-control
SHOW CREATE TABLE `blog_post`;
