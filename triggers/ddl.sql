-- DDL on exposed tables: a dropped table leaves the registry (its subscribers
-- are told), an altered one is reloaded (new columns can be filtered on), a
-- renamed one is served under its new name, and one with a column of an
-- altered type (an enum's labels) is reloaded. Event triggers need a superuser;
-- without one Rowcast still works, drops and alters are noticed at the next
-- expose of the table, and renames at the next start.

-- An exposed table renamed, or moved to another schema, keeps its entry and
-- read rule under the new name; subscribers of the old name are told it is
-- gone, as for a drop. Returns how many entries changed. The remembered oid is
-- brought up to date from the names first (a restore gives tables new oids);
-- an entry then follows its oid only when that is unambiguous: its name names
-- no table, the table carries Rowcast's capture triggers, and neither its oid
-- nor its new name belongs to another entry.
create or replace function rowcast.follow_renames() returns integer
language plpgsql as $$
declare
  moved record;
  changed integer := 0;
begin
  update rowcast.exposed_tables e set relid = to_regclass(format('%I.%I', e.table_schema, e.table_name))
  where to_regclass(format('%I.%I', e.table_schema, e.table_name)) is not null
    and e.relid is distinct from to_regclass(format('%I.%I', e.table_schema, e.table_name));
  for moved in
    select e.table_schema as old_schema, e.table_name as old_name, n.nspname as new_schema, c.relname as new_name, c.oid
    from rowcast.exposed_tables e
    join pg_class c on c.oid = e.relid
    join pg_namespace n on n.oid = c.relnamespace
    where to_regclass(format('%I.%I', e.table_schema, e.table_name)) is null
      and exists (select from pg_trigger t where t.tgrelid = c.oid
                  and (t.tgname = 'rowcast_capture_insert' or (t.tgname = 'rowcast_capture_row' and t.tgparentid = 0)))
      and not exists (select from rowcast.exposed_tables o
                      where (o.relid = c.oid or (o.table_schema, o.table_name) = (n.nspname, c.relname))
                        and (o.table_schema, o.table_name) <> (e.table_schema, e.table_name))
  loop
    if strpos(moved.new_schema, '.') > 0 or strpos(moved.new_name, '.') > 0 then
      -- A name with a dot cannot be served (see rowcast.expose): the table stops being captured.
      begin
        perform rowcast.drop_capture_triggers(moved.oid);
      exception when insufficient_privilege then
        -- A start by a role that does not own the table must still start; its rows are pruned unread.
        raise warning 'rowcast: cannot drop the capture triggers of %.%: %', quote_ident(moved.new_schema), quote_ident(moved.new_name), sqlerrm;
      end;
      delete from rowcast.exposed_tables where table_schema = moved.old_schema and table_name = moved.old_name;
      raise warning 'rowcast: %.% is no longer exposed: clients name tables as schema.table, and its new name has a dot',
        quote_ident(moved.new_schema), quote_ident(moved.new_name);
    else
      -- What was logged under its new name before belongs to whichever table had the name then.
      update rowcast.exposed_tables
      set table_schema = moved.new_schema, table_name = moved.new_name, history_after_seq = rowcast.history_start()
      where table_schema = moved.old_schema and table_name = moved.old_name;
      -- A partitioned table's row trigger carries its name: it is made again under the new one.
      if exists (select from pg_trigger t where t.tgrelid = moved.oid and t.tgname = 'rowcast_capture_row' and t.tgparentid = 0) then
        begin
          perform rowcast.install_capture_triggers(moved.oid);
        exception when insufficient_privilege then
          raise warning 'rowcast: cannot renew the capture trigger of %.% under its new name: %', quote_ident(moved.new_schema), quote_ident(moved.new_name), sqlerrm;
        end;
      end if;
    end if;
    perform rowcast.registry_changed(json_build_object(
      'action', 'renamed', 'schema', moved.old_schema, 'table', moved.old_name,
      'new_schema', moved.new_schema, 'new_table', moved.new_name));
    changed := changed + 1;
  end loop;
  return changed;
end
$$;

create or replace function rowcast.on_ddl() returns event_trigger
language plpgsql as $$
declare
  obj record;
  tbl oid;
begin
  if tg_event = 'sql_drop' then
    for obj in select * from pg_event_trigger_dropped_objects()
               where object_type = 'table' and schema_name <> 'rowcast' loop
      delete from rowcast.exposed_tables
      where table_schema = obj.schema_name and table_name = obj.object_name;
      if found then
        perform rowcast.registry_changed(json_build_object(
          'action', 'dropped', 'schema', obj.schema_name, 'table', obj.object_name));
      end if;
    end loop;
  else
    perform rowcast.follow_renames();
    for obj in select * from pg_event_trigger_ddl_commands() where command_tag = 'ALTER TABLE' loop
      if exists (
        select 1 from rowcast.exposed_tables e
        join pg_namespace n on n.nspname = e.table_schema
        join pg_class c on c.relnamespace = n.oid and c.relname = e.table_name
        where c.oid = obj.objid
      ) then
        perform rowcast.registry_changed(json_build_object('action', 'altered', 'oid', obj.objid));
      end if;
    end loop;
    -- An owner column renamed or dropped leaves its rule naming nothing: its rows are admin's only.
    for obj in
      select e.table_schema, e.table_name, e.owner_column
      from pg_event_trigger_ddl_commands() d
      join rowcast.exposed_tables e on to_regclass(format('%I.%I', e.table_schema, e.table_name)) = d.objid
      where d.command_tag = 'ALTER TABLE' and e.owner_column is not null
        and not exists (select from pg_attribute a
                        where a.attrelid = d.objid and a.attname = e.owner_column and a.attnum > 0 and not a.attisdropped)
    loop
      raise warning 'rowcast: the read rule of %.% names owner column %, which it no longer has: its rows are readable by admin only until rowcast.expose names the owner column again',
        quote_ident(obj.table_schema), quote_ident(obj.table_name), quote_ident(obj.owner_column);
    end loop;
    -- An enum given a label, or a label renamed: filters on its columns order by the labels.
    for obj in select * from pg_event_trigger_ddl_commands() where command_tag = 'ALTER TYPE' loop
      for tbl in
        select distinct c.oid from rowcast.exposed_tables e
        join pg_namespace n on n.nspname = e.table_schema
        join pg_class c on c.relnamespace = n.oid and c.relname = e.table_name
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where a.atttypid in (
          -- The type and the domains over it.
          with recursive d(oid) as (
            select obj.objid
            union all
            select t.oid from pg_type t join d on t.typbasetype = d.oid where t.typtype = 'd')
          select d.oid from d)
      loop
        perform rowcast.registry_changed(json_build_object('action', 'altered', 'oid', tbl));
      end loop;
    end loop;
  end if;
exception when others then
  -- Never make the user's DDL fail because of Rowcast (e.g. while rowcast itself is dropped).
  raise warning 'rowcast: % on %', sqlerrm, tg_tag;
end
$$;

do $$
begin
  drop event trigger if exists rowcast_ddl_drop;
  drop event trigger if exists rowcast_ddl_alter;
  create event trigger rowcast_ddl_drop on sql_drop execute function rowcast.on_ddl();
  create event trigger rowcast_ddl_alter on ddl_command_end when tag in ('ALTER TABLE', 'ALTER SCHEMA', 'ALTER TYPE')
    execute function rowcast.on_ddl();
exception when insufficient_privilege then
  raise notice 'rowcast: not a superuser; DROP and ALTER of exposed tables are noticed at their next expose, renames at the next start';
end
$$;

-- Renames made while no event trigger could see them (no superuser) or no
-- server ran are followed at start.
select rowcast.follow_renames();
