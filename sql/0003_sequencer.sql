-- The sequencer gives committed transactions their place in commit order.
--
-- seq values are allocated when rows are written, and transactions commit in
-- another order, so "everything after seq N" would skip a transaction that
-- committed late. Instead each call takes one snapshot and positions every
-- transaction that became visible since the last call: those with a change
-- above the horizon, and those that were still in progress last time. Within
-- one call, transactions are ordered by commit timestamp when
-- track_commit_timestamp is on, then by their last change (a transaction that
-- waited on another's row lock wrote after that one committed).
--
-- Calls are serialized by the row lock on rowcast.sequencer, so any number of
-- server instances may call it; positions are global and shared. A call that
-- placed transactions notifies rowcast_wakeup, so every instance hears of them.
create function rowcast.sequence() returns bigint
language plpgsql as $$
declare
  state rowcast.sequencer;
  before bigint;
  tracking boolean := current_setting('track_commit_timestamp')::boolean;
begin
  -- Nothing committed since the last call: answer without writing, so an
  -- awake server's empty passes cost no WAL and no commit flush.
  select * into state from rowcast.sequencer;
  -- (the same three kinds of candidates as below; max(seq) keeps the first an index probe)
  if coalesce((select max(seq) from rowcast.changes), 0) <= state.horizon_seq
     and not exists (select 1 from rowcast.changes where xid = any (state.in_progress) and seq <= state.horizon_seq)
     and not exists (select 1 from rowcast.changes where xid >= state.snapshot_xmax and seq <= state.horizon_seq) then
    return state.head_pos;
  end if;
  select * into state from rowcast.sequencer for update;
  before := state.head_pos;

  -- One statement, so the visible changes and the in-progress list come from
  -- the same snapshot (pg_current_snapshot() is the statement's snapshot).
  with candidates as (
    select xid, seq from rowcast.changes where seq > state.horizon_seq
    union all
    select xid, seq from rowcast.changes
    where xid = any (state.in_progress) and seq <= state.horizon_seq
    union all
    -- A snapshot lists running transactions only below its xmax (the newest
    -- finished xid + 1): one that is newer than every finished one is running
    -- too, and may have written below the horizon.
    select xid, seq from rowcast.changes
    where xid >= state.snapshot_xmax and seq <= state.horizon_seq
  ), fresh as (
    select xid, max(seq) as last_seq from candidates group by xid
  ), stamped as (
    select f.xid, f.last_seq,
           case when tracking
                then pg_xact_commit_timestamp((f.xid::text::numeric % 4294967296)::text::xid)
           end as commit_ts
    from fresh f
  ), placed as (
    insert into rowcast.transactions (pos, xid, committed_at)
    select state.head_pos + row_number() over (order by s.commit_ts, s.last_seq),
           s.xid, coalesce(s.commit_ts, clock_timestamp())
    from stamped s
    returning pos
  )
  update rowcast.sequencer set
    head_pos = coalesce((select max(pos) from placed), state.head_pos),
    horizon_seq = greatest(state.horizon_seq, coalesce((select max(last_seq) from fresh), 0)),
    in_progress = coalesce(
      (select array_agg(x) from pg_snapshot_xip(pg_current_snapshot()) as x), '{}'),
    snapshot_xmax = pg_snapshot_xmax(pg_current_snapshot())
  returning * into state;

  -- Writers skip their NOTIFY while a server is awake (see triggers/capture.sql);
  -- this one wakes the other instances, once per pass instead of once per writer.
  if state.head_pos > before then
    perform pg_notify('rowcast_wakeup', '');
  end if;
  return state.head_pos;
end
$$;

-- Retention: drop the oldest transactions committed before now() - keep, at
-- most `batch` of them per call, and remember the last dropped cursor so that
-- resuming from an older one fails with cursor_expired instead of a gap.
create function rowcast.prune(keep interval, batch integer default 5000) returns integer
language plpgsql as $$
declare
  last_pos bigint;
  last_seq bigint;
  dropped integer;
begin
  -- Serializes with the sequencer and other instances' prunes; the next
  -- statement's snapshot then sees what they committed.
  perform 1 from rowcast.sequencer for update;

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
