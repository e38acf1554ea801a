-- The change log and the commit order are queues: right after a truncate, or
-- on a fresh install, their statistics say "empty" while they grow by
-- thousands of rows a second until autovacuum analyzes them (a minute or
-- more). Generic plans made from such statistics scan the whole log on every
-- pass, and a pass then costs more the longer the log grows. The (xid, seq)
-- and position indexes are always the right access path for these lookups.
alter function rowcast.sequence_pass() set enable_seqscan = off;
alter function rowcast.advance(bigint, bigint, integer, text[]) set enable_seqscan = off;
