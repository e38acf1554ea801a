-- The registry's version: every expose, unexpose and DDL on an exposed table
-- bumps it in its own transaction (rowcast.registry_changed). A server reads
-- it after the changes it is about to publish and reloads its table catalog
-- first when it moved, so a rule committed with or before a write governs
-- that write. The NOTIFY on rowcast_control alone arrives on another
-- connection, in no order with the change log's reads. A table of its own:
-- a rule change held open in a long transaction must not block passes.
create table rowcast.registry (
  singleton boolean primary key default true check (singleton),
  version bigint not null default 0
);
insert into rowcast.registry default values;
