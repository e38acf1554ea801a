-- Rowcast's own schema: the durable change log, the commit order, and the
-- registry of exposed tables. Capture triggers write; servers only read and
-- sequence, so writers are never blocked by a server.
create schema if not exists rowcast;

-- One row per captured row change, written by the capture trigger inside the
-- writing transaction. `seq` is allocated at write time, so it is NOT commit
-- order: rowcast.transactions is.
create table rowcast.changes (
  seq bigint generated always as identity primary key,
  xid xid8 not null default pg_current_xact_id(),
  table_schema name not null,
  table_name name not null,
  op text not null check (op in ('INSERT', 'UPDATE', 'DELETE')),
  -- json, not jsonb: to_json is cheaper for writers, and its text is sent as is.
  "row" json not null,
  old json
);
create index changes_xid_seq on rowcast.changes (xid, seq);

-- Commit order: one row per committed transaction that wrote changes, in the
-- order the sequencer saw them become visible. A cursor is (pos, seq).
create table rowcast.transactions (
  pos bigint primary key,
  xid xid8 not null,
  committed_at timestamptz not null
);

-- The sequencer's horizon: every change with seq <= horizon_seq whose xid is
-- neither in in_progress nor >= snapshot_xmax has been given a position. pruned_* mark what retention
-- removed, so an older cursor is refused instead of silently skipping.
create table rowcast.sequencer (
  singleton boolean primary key default true check (singleton),
  head_pos bigint not null default 0,
  horizon_seq bigint not null default 0,
  in_progress xid8[] not null default '{}',
  snapshot_xmax xid8 not null default '0',
  pruned_pos bigint not null default 0,
  pruned_seq bigint not null default 0
);
insert into rowcast.sequencer default values;

-- Tables a DBA exposed, with their read rule: read_roles (only these roles),
-- owner_column (only rows whose column equals the token's sub), or neither
-- (any authenticated client).
create table rowcast.exposed_tables (
  table_schema name not null,
  table_name name not null,
  read_roles text[],
  owner_column name,
  exposed_at timestamptz not null default now(),
  primary key (table_schema, table_name),
  check (read_roles is null or owner_column is null)
);
