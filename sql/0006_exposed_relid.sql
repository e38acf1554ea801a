-- An exposed table keeps its entry when it is renamed or moved to another
-- schema: the entry remembers the table itself, and DDL (or the next start)
-- brings its names up to date (see rowcast.follow_renames in triggers/ddl.sql).
alter table rowcast.exposed_tables add column relid oid;
update rowcast.exposed_tables
set relid = to_regclass(format('%I.%I', table_schema, table_name));
