-- Capture: applied at every start (create or replace), so fixing the trigger
-- is a restart, not a migration.

-- Statement-level triggers: transition tables make a 1000-row statement cost
-- one INSERT ... SELECT and at most one notification. The NOTIFY carries no
-- data: it is only a wake-up hint, the log is the truth, so rows of any size
-- work. One function per operation, each two statements when a server is
-- awake: every plpgsql statement is paid in each writing transaction (a
-- branch on tg_op and a row count cost 16 writers about 3 % of their
-- throughput, measured with pgbench).

-- Rows are named `n.*` and `o.*`, never `n`: a bare alias means the column when
-- the table has one of that name (a column `n` made the whole row its value).

-- A NOTIFY serializes commits on a database-wide lock, so each function sends
-- it only when no server is awake: an awake server holds (1919905635, 1)
-- exclusively and reads the log in a loop anyway. Before it sleeps it waits
-- out every transaction that may have seen it awake (see WakeupGate). The
-- probe is written out in each: a SQL helper holding it measured about 1 %
-- slower at 16 writers (one five-round run, near the noise).

create or replace function rowcast.capture_insert() returns trigger
language plpgsql as $$
begin
  insert into rowcast.changes (table_schema, table_name, op, "row")
  select tg_table_schema, tg_table_name, 'INSERT', to_json(n.*) from rowcast_new n;
  if found and pg_try_advisory_lock_shared(1919905635, 1) then
    perform pg_advisory_unlock_shared(1919905635, 1);
    perform pg_notify('rowcast_wakeup', '');
  end if;
  return null;
end
$$;

create or replace function rowcast.capture_update() returns trigger
language plpgsql as $$
begin
  -- Old and new transition rows are stored pairwise in the same order, so
  -- ordinal pairing also survives an UPDATE of the primary key.
  insert into rowcast.changes (table_schema, table_name, op, "row", old)
  select tg_table_schema, tg_table_name, 'UPDATE', n.r, o.r
  from (select row_number() over () as i, to_json(n.*) as r from rowcast_new n) n
  join (select row_number() over () as i, to_json(o.*) as r from rowcast_old o) o using (i)
  order by i;
  if found and pg_try_advisory_lock_shared(1919905635, 1) then
    perform pg_advisory_unlock_shared(1919905635, 1);
    perform pg_notify('rowcast_wakeup', '');
  end if;
  return null;
end
$$;

create or replace function rowcast.capture_delete() returns trigger
language plpgsql as $$
begin
  insert into rowcast.changes (table_schema, table_name, op, "row", old)
  select tg_table_schema, tg_table_name, 'DELETE', to_json(o.*), to_json(o.*) from rowcast_old o;
  if found and pg_try_advisory_lock_shared(1919905635, 1) then
    perform pg_advisory_unlock_shared(1919905635, 1);
    perform pg_notify('rowcast_wakeup', '');
  end if;
  return null;
end
$$;

-- A partitioned table: a statement-level trigger on it fires only for
-- statements that name it, so writes naming a partition went unseen. A row
-- trigger on it is cloned by PostgreSQL onto every partition, present, created
-- or attached later, and fires whichever table a statement names; its
-- arguments carry the exposed name (tg_table_name is the partition's). An
-- UPDATE moving a row to another partition fires it, as PostgreSQL fires row
-- triggers, as a DELETE and an INSERT.
create or replace function rowcast.capture_row() returns trigger
language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    insert into rowcast.changes (table_schema, table_name, op, "row")
    values (tg_argv[0], tg_argv[1], 'INSERT', to_json(new.*));
  elsif tg_op = 'UPDATE' then
    insert into rowcast.changes (table_schema, table_name, op, "row", old)
    values (tg_argv[0], tg_argv[1], 'UPDATE', to_json(new.*), to_json(old.*));
  else
    insert into rowcast.changes (table_schema, table_name, op, "row", old)
    values (tg_argv[0], tg_argv[1], 'DELETE', to_json(old.*), to_json(old.*));
  end if;
  if pg_try_advisory_lock_shared(1919905635, 1) then
    perform pg_advisory_unlock_shared(1919905635, 1);
    perform pg_notify('rowcast_wakeup', '');
  end if;
  return null;
end
$$;

create or replace function rowcast.drop_capture_triggers(tbl regclass) returns void
language plpgsql as $$
begin
  execute format('drop trigger if exists rowcast_capture_insert on %s', tbl);
  execute format('drop trigger if exists rowcast_capture_update on %s', tbl);
  execute format('drop trigger if exists rowcast_capture_delete on %s', tbl);
  -- Not a partition's clone of its parent's, which only goes with the parent's.
  if exists (select from pg_trigger where tgrelid = tbl and tgname = 'rowcast_capture_row' and tgparentid = 0) then
    execute format('drop trigger rowcast_capture_row on %s', tbl);
  end if;
end
$$;

-- A partitioned table gets its row trigger (see capture_row); any other table
-- statement-level ones, one per event, as transition tables need.
create or replace function rowcast.install_capture_triggers(tbl regclass) returns void
language plpgsql as $$
declare
  schema_name name;
  rel_name name;
begin
  perform rowcast.drop_capture_triggers(tbl);
  select n.nspname, c.relname into schema_name, rel_name
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.oid = tbl and c.relkind = 'p';
  if rel_name is not null then
    execute format('create trigger rowcast_capture_row after insert or update or delete on %s '
      'for each row execute function rowcast.capture_row(%L, %L)', tbl, schema_name, rel_name);
    return;
  end if;
  execute format('create trigger rowcast_capture_insert after insert on %s '
    'referencing new table as rowcast_new for each statement execute function rowcast.capture_insert()', tbl);
  execute format('create trigger rowcast_capture_update after update on %s '
    'referencing old table as rowcast_old new table as rowcast_new '
    'for each statement execute function rowcast.capture_update()', tbl);
  execute format('create trigger rowcast_capture_delete after delete on %s '
    'referencing old table as rowcast_old for each statement execute function rowcast.capture_delete()', tbl);
end
$$;

-- Triggers installed before the per-operation functions used one generic
-- rowcast.capture(): a start moves them over, then drops it.
do $$
declare
  tbl regclass;
begin
  if to_regprocedure('rowcast.capture()') is null then
    return;
  end if;
  for tbl in select distinct tgrelid::regclass from pg_trigger
             where tgfoid = 'rowcast.capture()'::regprocedure and tgname like 'rowcast\_capture\_%' loop
    perform rowcast.install_capture_triggers(tbl);
  end loop;
  if not exists (select from pg_trigger where tgfoid = 'rowcast.capture()'::regprocedure) then
    drop function rowcast.capture();
  end if;
end
$$;

-- Partitioned tables exposed with statement-level triggers (before capture_row)
-- get their row trigger at start, so writes naming a partition are seen.
do $$
declare
  tbl regclass;
begin
  for tbl in select distinct t.tgrelid::regclass from pg_trigger t join pg_class c on c.oid = t.tgrelid
             where c.relkind = 'p' and t.tgname = 'rowcast_capture_insert' loop
    begin
      perform rowcast.install_capture_triggers(tbl);
    exception when insufficient_privilege then
      -- A start by a role that does not own the table must still start.
      raise warning 'rowcast: cannot give % its row trigger (writes naming a partition are not captured): %', tbl, sqlerrm;
    end;
  end loop;
end
$$;

-- Where a table's own history begins once it is exposed under a name: after
-- every seq allocated so far (see sql/0008). Its writers are held off by the
-- lock of the DDL or expose that calls this, so their changes come after.
create or replace function rowcast.history_start() returns bigint
language sql as $$
  select coalesce(pg_sequence_last_value(pg_get_serial_sequence('rowcast.changes', 'seq')::regclass), 0)
$$;

-- Every change to what is exposed, and how: bumps the registry's version (see
-- sql/0007) and tells running servers at once.
create or replace function rowcast.registry_changed(what json) returns void
language sql as $$
  update rowcast.registry set version = version + 1;
  select pg_notify('rowcast_control', what::text);
$$;

-- Expose a table: register its read rule and install the capture triggers.
-- Idempotent; a running server learns of it through rowcast_control.
create or replace function rowcast.expose(
  tbl regclass,
  roles text[] default null,
  owner_column name default null
) returns void
language plpgsql as $$
declare
  schema_name name;
  rel_name name;
  owner_type oid;
begin
  select n.nspname, c.relname into schema_name, rel_name
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.oid = tbl and c.relkind in ('r', 'p');
  if rel_name is null then
    raise exception 'rowcast.expose: % is not a table', tbl;
  end if;
  if schema_name = 'rowcast' then
    raise exception 'rowcast.expose: tables of the rowcast schema cannot be exposed';
  end if;
  -- Clients name a table "schema.table": with a dot inside a name two tables could share one.
  if strpos(schema_name, '.') > 0 or strpos(rel_name, '.') > 0 then
    raise exception 'rowcast.expose: %.% has a dot in its name; clients name tables as schema.table',
      quote_ident(schema_name), quote_ident(rel_name);
  end if;
  if not exists (select 1 from pg_index where indrelid = tbl and indisprimary) then
    raise exception 'rowcast.expose: table %.% has no primary key', schema_name, rel_name;
  end if;
  if roles is not null and owner_column is not null then
    raise exception 'rowcast.expose: give roles or owner_column, not both';
  end if;
  if owner_column is not null then
    select a.atttypid into owner_type from pg_attribute a
    where a.attrelid = tbl and a.attname = owner_column and a.attnum > 0 and not a.attisdropped;
    if owner_type is null then
      raise exception 'rowcast.expose: table %.% has no column %', schema_name, rel_name, owner_column;
    end if;
    while (select typtype from pg_type where oid = owner_type) = 'd' loop
      select typbasetype into owner_type from pg_type where oid = owner_type;
    end loop;
    -- The token's sub is a string: json's "7" and 7, or an array's bounds, would read as one owner.
    if owner_type in ('json'::regtype, 'jsonb'::regtype)
       or (select typcategory from pg_type where oid = owner_type) in ('A', 'C', 'G', 'R') then
      raise exception 'rowcast.expose: owner column % of %.% is of type %; an owner column holds a scalar (text, uuid, a number…) compared with the token''s sub',
        owner_column, schema_name, rel_name, format_type(owner_type, null);
    end if;
  end if;

  -- A name newly exposed, or now another table's: what was logged under it before is not this table's.
  insert into rowcast.exposed_tables (table_schema, table_name, read_roles, owner_column, relid, history_after_seq)
  values (schema_name, rel_name, roles, owner_column, tbl, rowcast.history_start())
  on conflict (table_schema, table_name)
  do update set read_roles = excluded.read_roles, owner_column = excluded.owner_column, relid = excluded.relid,
    history_after_seq = case when exposed_tables.relid is distinct from excluded.relid
                             then excluded.history_after_seq else exposed_tables.history_after_seq end;

  perform rowcast.install_capture_triggers(tbl);

  perform rowcast.registry_changed(json_build_object('action', 'expose', 'schema', schema_name, 'table', rel_name));
end
$$;

create or replace function rowcast.unexpose(tbl regclass) returns void
language plpgsql as $$
declare
  schema_name name;
  rel_name name;
begin
  select n.nspname, c.relname into schema_name, rel_name
  from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = tbl;
  perform rowcast.drop_capture_triggers(tbl);
  delete from rowcast.exposed_tables where table_schema = schema_name and table_name = rel_name;
  perform rowcast.registry_changed(json_build_object('action', 'unexpose', 'schema', schema_name, 'table', rel_name));
end
$$;
