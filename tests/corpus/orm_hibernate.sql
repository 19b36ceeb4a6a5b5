-- What Hibernate sends through MariaDB Connector/J or MySQL Connector/J:
-- the drivers' connection probes, schema validation through
-- information_schema (DatabaseMetaData), sequence / table id generators,
-- and Hibernate 6 statement shapes (lower-case, aliases like u1_0).

SET autocommit=1, sql_mode = concat(@@sql_mode,',STRICT_TRANS_TABLES');
SELECT @@max_allowed_packet, @@wait_timeout;
SELECT @@time_zone, @@auto_increment_increment;
SELECT @@system_time_zone IS NOT NULL;
SELECT @@session.auto_increment_increment AS auto_increment_increment, @@character_set_client AS character_set_client, @@character_set_connection AS character_set_connection, @@character_set_results AS character_set_results, @@character_set_server AS character_set_server, @@collation_server AS collation_server, @@collation_connection AS collation_connection, @@init_connect AS init_connect, @@interactive_timeout AS interactive_timeout, @@lower_case_table_names AS lower_case_table_names, @@max_allowed_packet AS max_allowed_packet, @@net_write_timeout AS net_write_timeout, @@sql_mode AS sql_mode, @@system_time_zone IS NOT NULL AS system_time_zone, @@time_zone AS time_zone, @@tx_isolation AS transaction_isolation, @@wait_timeout AS wait_timeout;
SET NAMES utf8mb4;
SET character_set_results = NULL;
SELECT @@character_set_results;
SET character_set_results = utf8mb4;
-- @allow: mysql8-names
SELECT @@session.transaction_read_only;
SELECT @@session.tx_read_only;
SET SESSION TRANSACTION READ ONLY;
SET SESSION TRANSACTION READ WRITE;
SHOW WARNINGS;
SELECT DATABASE();
create table person (id bigint not null, birth_date date, name varchar(255), version integer, primary key (id)) engine=InnoDB;
create table phone (id bigint not null, number varchar(255), type enum ('LAND_LINE','MOBILE'), person_id bigint, primary key (id)) engine=InnoDB;
create sequence person_SEQ start with 1 increment by 50 engine=InnoDB;
create table phone_SEQ (next_val bigint) engine=InnoDB;
insert into phone_SEQ values ( 1 );
alter table phone add constraint FKmw13yfsjypiiq0i1osdkaeqpg foreign key (person_id) references person (id);
SELECT TABLE_SCHEMA AS TABLE_CAT, NULL AS TABLE_SCHEM, TABLE_NAME, CASE WHEN TABLE_TYPE = 'BASE TABLE' THEN CASE WHEN TABLE_SCHEMA = 'mysql' OR TABLE_SCHEMA = 'performance_schema' THEN 'SYSTEM TABLE' ELSE 'TABLE' END WHEN TABLE_TYPE = 'TEMPORARY' THEN 'LOCAL_TEMPORARY' ELSE TABLE_TYPE END AS TABLE_TYPE, TABLE_COMMENT AS REMARKS, NULL AS TYPE_CAT, NULL AS TYPE_SCHEM, NULL AS TYPE_NAME, NULL AS SELF_REFERENCING_COL_NAME, NULL AS REF_GENERATION FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'sqldiff_orm_hibernate' AND TABLE_NAME LIKE '%' ORDER BY TABLE_TYPE, TABLE_SCHEMA, TABLE_NAME;
SELECT TABLE_SCHEMA AS TABLE_CAT, NULL AS TABLE_SCHEM, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, CASE WHEN IS_NULLABLE = 'NO' THEN 0 ELSE 1 END AS NULLABLE, COLUMN_DEFAULT AS COLUMN_DEF, ORDINAL_POSITION, IS_NULLABLE, IF(EXTRA LIKE '%auto_increment%', 'YES', 'NO') AS IS_AUTOINCREMENT, IF(EXTRA IN ('VIRTUAL', 'PERSISTENT', 'VIRTUAL GENERATED', 'STORED GENERATED'), 'YES', 'NO') AS IS_GENERATEDCOLUMN FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = 'sqldiff_orm_hibernate' AND TABLE_NAME LIKE 'p%' ORDER BY TABLE_CAT, TABLE_SCHEM, TABLE_NAME, ORDINAL_POSITION;
SELECT A.TABLE_SCHEMA AS PKTABLE_CAT, NULL AS PKTABLE_SCHEM, A.REFERENCED_TABLE_NAME AS PKTABLE_NAME, A.REFERENCED_COLUMN_NAME AS PKCOLUMN_NAME, A.TABLE_SCHEMA AS FKTABLE_CAT, NULL AS FKTABLE_SCHEM, A.TABLE_NAME AS FKTABLE_NAME, A.COLUMN_NAME AS FKCOLUMN_NAME, A.POSITION_IN_UNIQUE_CONSTRAINT AS KEY_SEQ, CASE WHEN R.UPDATE_RULE = 'CASCADE' THEN 0 WHEN R.UPDATE_RULE = 'SET NULL' THEN 2 WHEN R.UPDATE_RULE = 'SET DEFAULT' THEN 4 WHEN R.UPDATE_RULE = 'RESTRICT' THEN 1 ELSE 3 END AS UPDATE_RULE, CASE WHEN R.DELETE_RULE = 'CASCADE' THEN 0 WHEN R.DELETE_RULE = 'SET NULL' THEN 2 WHEN R.DELETE_RULE = 'SET DEFAULT' THEN 4 WHEN R.DELETE_RULE = 'RESTRICT' THEN 1 ELSE 3 END AS DELETE_RULE, A.CONSTRAINT_NAME AS FK_NAME, 'PRIMARY' AS PK_NAME, 7 AS DEFERRABILITY FROM INFORMATION_SCHEMA.KEY_COLUMN_USAGE A JOIN INFORMATION_SCHEMA.REFERENTIAL_CONSTRAINTS R ON (R.CONSTRAINT_NAME = A.CONSTRAINT_NAME AND R.TABLE_NAME = A.TABLE_NAME AND R.CONSTRAINT_SCHEMA = A.TABLE_SCHEMA) WHERE A.REFERENCED_TABLE_NAME IS NOT NULL AND A.TABLE_SCHEMA = 'sqldiff_orm_hibernate' AND A.TABLE_NAME = 'phone' ORDER BY PKTABLE_CAT, PKTABLE_SCHEM, PKTABLE_NAME, KEY_SEQ;
SELECT A.TABLE_SCHEMA AS TABLE_CAT, NULL AS TABLE_SCHEM, A.TABLE_NAME, A.COLUMN_NAME, B.SEQ_IN_INDEX AS KEY_SEQ, B.INDEX_NAME AS PK_NAME FROM INFORMATION_SCHEMA.COLUMNS A, INFORMATION_SCHEMA.STATISTICS B WHERE A.COLUMN_KEY IN ('PRI', 'pri') AND B.INDEX_NAME = 'PRIMARY' AND A.TABLE_SCHEMA = 'sqldiff_orm_hibernate' AND A.TABLE_NAME = 'person' AND B.TABLE_SCHEMA = A.TABLE_SCHEMA AND B.TABLE_NAME = A.TABLE_NAME AND B.COLUMN_NAME = A.COLUMN_NAME ORDER BY A.COLUMN_NAME;
SELECT NULL AS TABLE_CAT, NULL AS TABLE_SCHEM, TABLE_NAME, NON_UNIQUE, NULL AS INDEX_QUALIFIER, INDEX_NAME, 3 AS TYPE, SEQ_IN_INDEX AS ORDINAL_POSITION, COLUMN_NAME, COLLATION AS ASC_OR_DESC, CARDINALITY, NULL AS PAGES, NULL AS FILTER_CONDITION FROM INFORMATION_SCHEMA.STATISTICS WHERE TABLE_NAME = 'phone' AND TABLE_SCHEMA = 'sqldiff_orm_hibernate' ORDER BY NON_UNIQUE, INDEX_NAME, SEQ_IN_INDEX;
SELECT table_name FROM information_schema.TABLES WHERE table_schema = 'sqldiff_orm_hibernate' AND table_type = 'SEQUENCE';
select next value for person_SEQ;
-- @allow: node-local-sequence-cache
select next value for person_SEQ;
select next_val as id_val from phone_SEQ for update;
update phone_SEQ set next_val= 51 where next_val=1;
select next_val as id_val from phone_SEQ;
insert into person (birth_date,name,version,id) values ('1990-05-17','John Doe',0,1);
insert into person (birth_date,name,version,id) values (NULL,'Jane Roe',0,2);
insert into phone (number,person_id,type,id) values ('123-456-7890',1,'MOBILE',1);
insert into phone (number,person_id,type,id) values ('098-765-4321',1,'LAND_LINE',2);
insert into phone (number,person_id,type,id) values ('000',3,'MOBILE',3);
insert into phone (number,person_id,type,id) values ('000',2,'SATELLITE',3);
select p1_0.id,p1_0.birth_date,p1_0.name,p1_0.version from person p1_0 where p1_0.id=1;
select p1_0.id,p1_0.number,p1_0.person_id,p1_0.type from phone p1_0 where p1_0.person_id=1 order by p1_0.id;
select p1_0.id,p2_0.number from person p1_0 left join phone p2_0 on p1_0.id=p2_0.person_id where p1_0.name like 'J%' escape '!' order by p1_0.id,p2_0.id;
select count(p1_0.id) from person p1_0;
select p1_0.id from person p1_0 order by p1_0.name limit 1,1;
select p1_0.id from person p1_0 order by p1_0.id limit 1 offset 1;
select p1_0.id,p1_0.name from person p1_0 where p1_0.id=1 for update;
select p1_0.id,p1_0.name from person p1_0 where p1_0.id=1 lock in share mode;
select p1_0.id from person p1_0 where p1_0.id=1 for share;
update person set birth_date='1990-05-18',name='John Doe',version=1 where id=1 and version=0;
update person set birth_date='1990-05-18',name='John Doe',version=1 where id=1 and version=0;
select version from person where id=1;
select p1_0.name,count(p2_0.id) from person p1_0 left join phone p2_0 on p1_0.id=p2_0.person_id group by p1_0.id,p1_0.name having count(p2_0.id)>=0 order by 1;
select p1_0.id from phone p1_0 where p1_0.type in ('MOBILE','LAND_LINE') and p1_0.number is not null order by p1_0.id;
select cast(p1_0.id as char) from person p1_0 order by p1_0.id;
select case when p1_0.birth_date is null then 'unknown' else extract(year from p1_0.birth_date) end from person p1_0 order by p1_0.id;
delete from phone where person_id=1;
delete from person where id=2 and version=0;
select count(*) from person;
drop table if exists phone;
drop table if exists person;
drop sequence if exists person_SEQ;
drop table if exists phone_SEQ;
