-- The three demo tables of CONTRACT §2 are created at every start, if
-- absent, by triggers/demo-tables.sql. This migration created them once; it
-- stays, empty, so the history recorded by installed databases stays whole.
select 1;
