-- The sequencer follows transaction ids instead of write order.
--
-- A snapshot tells which transactions are running: its xip list, and every
-- xid from its xmax on. The sequencer keeps that running set from its last
-- pass; a transaction that has left it since has finished, and if it
-- committed, its changes are found by xid. So a pass reads only what finished
-- since the last one, a huge transaction still running costs nothing until it
-- commits, and the change log needs only its (xid, seq) index: writers keep
-- up one btree instead of two.

create unique index changes_xid_seq_key on rowcast.changes (xid, seq);
alter table rowcast.changes drop constraint changes_pkey;
alter table rowcast.changes add constraint changes_pkey primary key using index changes_xid_seq_key;
drop index rowcast.changes_xid_seq;
-- Only rowcast.capture() writes here; and text takes 12 bytes where name takes 64, on every row.
alter table rowcast.changes drop constraint changes_op_check,
  alter column table_schema type text,
  alter column table_name type text;

-- Every change the old sequencer had not positioned belongs to its stored
-- running set (in_progress, or xid >= snapshot_xmax), so its seq horizon can go.
alter table rowcast.sequencer drop column horizon_seq;
comment on column rowcast.sequencer.in_progress is
  'with every xid from snapshot_xmax on: the transactions that were running at the last pass';

-- Passes and prunes are serialized by this transaction-level advisory lock
-- (no row lock: it would cost a WAL record per pass).
create function rowcast.lock_sequencer() returns void
language sql as $$ select pg_advisory_xact_lock(1919905635, 3) $$;

-- One pass: gives the transactions that committed since the last pass their
-- positions, in commit order. Returns the head before and after, and the
-- placed transactions in order (position before_pos + i is xids[i]).
--
-- Transactions that left the running set between two passes became visible
-- in that order: each one placed by a pass committed before that pass's
-- snapshot, each one left for the next pass committed after it. Within a pass
-- they are ordered by commit timestamp when track_commit_timestamp is on, then
-- by their last change (a transaction that waited on another's row lock wrote
-- after that one committed).
--
-- Any number of instances may call it: the snapshot is taken under the lock,
-- so a pass never starts from an older state than the last pass left. A pass
-- that placed transactions notifies rowcast_wakeup, so every instance hears of
-- them. The plans do not depend on the values (arrays and index probes), so
-- PostgreSQL keeps one generic plan instead of planning every pass.
create function rowcast.sequence_pass(
  out before_pos bigint, out head_pos bigint, out xids xid8[], out committed timestamptz[]
)
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
declare
  state rowcast.sequencer;
  snap pg_snapshot := pg_current_snapshot();
  own bigint;
  tracking boolean := current_setting('track_commit_timestamp')::boolean;
begin
  if pg_current_xact_id_if_assigned() is not null then
    -- Its own writes would be counted as finished the moment it commits.
    raise exception 'rowcast.sequence() must run in a transaction of its own';
  end if;
  select * into state from rowcast.sequencer;
  before_pos := state.head_pos;
  head_pos := state.head_pos;
  xids := '{}';
  committed := '{}';
  -- Nothing has left the running set: nothing can have become visible. This
  -- answer costs no write, so idle passes cost no WAL and no commit flush.
  if pg_snapshot_xmax(snap) <= state.snapshot_xmax
     and not exists (select from unnest(state.in_progress) x where pg_visible_in_snapshot(x, snap)) then
    return;
  end if;

  perform rowcast.lock_sequencer();
  select * into state from rowcast.sequencer;
  snap := pg_current_snapshot();
  -- This pass's own xid, taken after the snapshot: it writes no changes, so
  -- it and everything below it that the snapshot saw finish can be left out.
  own := pg_current_xact_id()::text::bigint;

  select coalesce(array_agg(t.xid order by t.ts, t.last_seq), '{}'),
         coalesce(array_agg(coalesce(t.ts, clock_timestamp()) order by t.ts, t.last_seq), '{}')
  into xids, committed
  from (
    select f.xid, max(f.seq) as last_seq,
           case when tracking then pg_xact_commit_timestamp(f.xid::xid) end as ts
    from (
      -- New since the last pass (a long absence makes this a long range, still one scan)…
      select c.xid, c.seq from rowcast.changes c
      where c.xid >= state.snapshot_xmax and c.xid < pg_snapshot_xmax(snap)
        and pg_visible_in_snapshot(c.xid, snap)
      union all
      -- …and running last time, looked up only once they have finished.
      select c.xid, c.seq from rowcast.changes c
      where c.xid = any (array(select x from unnest(state.in_progress) x where pg_visible_in_snapshot(x, snap)))
    ) f
    group by f.xid
  ) t;

  before_pos := state.head_pos;
  head_pos := state.head_pos + cardinality(xids);
  if head_pos > before_pos then
    insert into rowcast.transactions (pos, xid, committed_at)
    select before_pos + u.i, u.xid, u.ts from unnest(xids, committed) with ordinality u(xid, ts, i);
  end if;
  -- Running from here on: the snapshot's list, what it could not list (xids
  -- from its xmax up to this pass's own), and every xid after this pass's own.
  update rowcast.sequencer set
    head_pos = sequence_pass.head_pos,
    in_progress = array(
      select pg_snapshot_xip(snap)
      union all
      select g::text::xid8 from generate_series(pg_snapshot_xmax(snap)::text::bigint, own - 1) g),
    snapshot_xmax = (own + 1)::text::xid8;

  -- Writers skip their NOTIFY while a server is awake (see triggers/capture.sql);
  -- this one wakes the other instances, once per pass instead of once per writer.
  if head_pos > before_pos then
    perform pg_notify('rowcast_wakeup', '');
  end if;
end
$$;

-- The sequencer as before: one pass, returns the head position.
create or replace function rowcast.sequence() returns bigint
language sql as $$
  select head_pos from rowcast.sequence_pass()
$$;

-- The live feed's round trip: one pass, then, when the caller's cursor stood
-- right after the previous head (at_head), the changes of the transactions
-- this pass placed, of the tables the caller reads ("schema.table"; null for
-- all), at most max_rows, in commit order. Each row carries the new head; with
-- no changes to return there is one row with the head alone. When at_head is
-- false the caller reads what lies after its cursor with an ordinary read.
create function rowcast.advance(after_pos bigint, after_seq bigint, max_rows integer, tables text[])
returns table (
  head_pos bigint, at_head boolean, pos bigint, seq bigint, table_schema text, table_name text,
  op text, "row" text, old text, committed_at text
)
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
declare
  pass record;
  caught_up boolean;
begin
  select * into pass from rowcast.sequence_pass();
  caught_up := after_pos = pass.before_pos + 1 and after_seq = 0;
  if caught_up and pass.head_pos > pass.before_pos and (tables is null or cardinality(tables) > 0) then
    return query
      select pass.head_pos, true, pass.before_pos + u.i, c.seq, c.table_schema, c.table_name, c.op,
             c."row"::text, c.old::text,
             to_char(u.ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
      from unnest(pass.xids, pass.committed) with ordinality u(xid, ts, i)
      cross join lateral (
        select * from rowcast.changes c
        where c.xid = u.xid and (tables is null or c.table_schema || '.' || c.table_name = any (tables))
        order by c.seq limit max_rows
      ) c
      order by u.i, c.seq
      limit max_rows;
    if found then
      return;
    end if;
  end if;
  return query select pass.head_pos, caught_up, null::bigint, null::bigint, null::text, null::text,
                      null::text, null::text, null::text, null::text;
end
$$;

-- Retention as before, serialized with passes by the same lock.
create or replace function rowcast.prune(keep interval, batch integer default 5000) returns integer
language plpgsql as $$
declare
  last_pos bigint;
  last_seq bigint;
  dropped integer;
begin
  -- The next statement's snapshot then sees what passes and other prunes committed.
  perform rowcast.lock_sequencer();

  select max(pos) into last_pos from (
    select pos from rowcast.transactions
    where committed_at < now() - keep
    order by pos limit batch
  ) oldest;
  if last_pos is null then
    return 0;
  end if;

  with gone_tx as (
    delete from rowcast.transactions where pos <= last_pos returning pos, xid
  ), gone as (
    delete from rowcast.changes c using gone_tx t where c.xid = t.xid
    returning c.seq, t.pos
  )
  select count(*), max(seq) filter (where pos = last_pos) into dropped, last_seq from gone;

  update rowcast.sequencer
  set pruned_pos = last_pos, pruned_seq = coalesce(last_seq, 0);
  return dropped;
end
$$;
