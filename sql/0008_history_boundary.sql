-- The change log names the table each change was written to, and a name can
-- pass to another table: a table dropped and created again, or two tables
-- swapping names. Such a table's history is not the new one's to serve under
-- the new one's read rule, so an entry remembers where its own begins: the
-- changes under its name with seq <= history_after_seq were written before it
-- was exposed under that name (rowcast.expose, rowcast.follow_renames), and
-- are served to no one. 0 for entries from before: their history stays.
alter table rowcast.exposed_tables add column history_after_seq bigint not null default 0;
