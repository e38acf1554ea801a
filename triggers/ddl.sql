-- DDL on exposed tables: a dropped table leaves the registry (its subscribers
-- are told), an altered one is reloaded (new columns can be filtered on).
-- Event triggers need a superuser; without one Rowcast still works, and such
-- DDL is noticed at the next expose of the table.
create or replace function rowcast.on_ddl() returns event_trigger
language plpgsql as $$
declare
  obj record;
begin
  if tg_event = 'sql_drop' then
    for obj in select * from pg_event_trigger_dropped_objects()
               where object_type = 'table' and schema_name <> 'rowcast' loop
      delete from rowcast.exposed_tables
      where table_schema = obj.schema_name and table_name = obj.object_name;
      if found then
        perform pg_notify('rowcast_control', json_build_object(
          'action', 'dropped', 'schema', obj.schema_name, 'table', obj.object_name)::text);
      end if;
    end loop;
  else
    for obj in select * from pg_event_trigger_ddl_commands() where command_tag = 'ALTER TABLE' loop
      if exists (
        select 1 from rowcast.exposed_tables e
        join pg_namespace n on n.nspname = e.table_schema
        join pg_class c on c.relnamespace = n.oid and c.relname = e.table_name
        where c.oid = obj.objid
      ) then
        perform pg_notify('rowcast_control', json_build_object('action', 'altered', 'oid', obj.objid)::text);
      end if;
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
  create event trigger rowcast_ddl_alter on ddl_command_end when tag in ('ALTER TABLE')
    execute function rowcast.on_ddl();
exception when insufficient_privilege then
  raise notice 'rowcast: not a superuser; DROP and ALTER of exposed tables are noticed at their next expose';
end
$$;
