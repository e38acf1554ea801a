/**
 * CONTRACT §2, DDL on exposed tables while the server runs: a dropped table
 * stops being served, an altered one is reloaded (and its subscriptions'
 * filters compiled again, as after an enum's labels change), a renamed one is
 * served under its new name; and every start brings the demo tables back.
 */
import { expect, startTestServer, test } from './support/fixtures.js';
import { WITHIN_MS, captureTriggers, subscribeReply, subscribeWhenServed, tableInfo } from './support/exposure.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

test('DROP TABLE of an exposed table unexposes it (subscribers told); ALTER TABLE reloads its columns', async ({ rowcast, database }) => {
  await database.query('create table public.gadgets (id bigserial primary key, name text)');
  await database.query("select rowcast.expose('public.gadgets')");
  const tableNames = async () =>
    ((await (await fetch(`${rowcast.url}/tables`)).json()) as { tables: Array<{ name: string; columns: Array<{ name: string }> }> }).tables;
  await waitFor(async () => (await tableNames()).some((t) => t.name === 'gadgets'), { timeoutMs: WITHIN_MS, what: 'gadgets exposed' });

  await database.query('alter table public.gadgets add column color text');
  await waitFor(async () => (await tableNames()).find((t) => t.name === 'gadgets')?.columns.some((c) => c.name === 'color'), {
    timeoutMs: WITHIN_MS,
    what: 'the new column in /tables',
  });
  const ws = await TestWsClient.connect(rowcast.url);
  await ws.subscribe({ id: 'g', table: 'gadgets', filter: { color: 'eq.red' } });

  await database.query('drop table public.gadgets');
  const error = await ws.waitFor((m) => m.type === 'error' && m.ref === 'g', WITHIN_MS);
  expect(error).toMatchObject({ code: 'unknown_table' });
  expect((await tableNames()).some((t) => t.name === 'gadgets')).toBe(false);
  const { rows } = await database.query("select count(*)::int as n from rowcast.exposed_tables where table_name = 'gadgets'");
  expect(rows[0].n).toBe(0);
  ws.close();
});

test('a filter is compiled again when a column changes type or its enum labels change; one that no longer fits ends its subscription', async ({ rowcast, database }) => {
  await database.query(`create type level as enum ('low', 'normal', 'high');
    create table public.alarms (id bigserial primary key, lvl level, n text)`);
  await database.query("select rowcast.expose('public.alarms')");
  const ws = await TestWsClient.connect(rowcast.url);
  const all = await subscribeWhenServed(ws, 'alarms');
  await ws.subscribe({ id: 'above', table: 'alarms', filter: { lvl: 'gte.high' } });
  await ws.subscribe({ id: 'below', table: 'alarms', filter: { lvl: 'lt.low' } });
  await ws.subscribe({ id: 'big', table: 'alarms', filter: { n: 'gt.9' } });
  await ws.subscribe({ id: 'normal', table: 'alarms', filter: { lvl: 'eq.normal' } });

  // No wait after the DDL: a change is judged by the catalog as of its own commit.
  await database.query(`alter type level add value 'urgent' after 'high'`);
  await database.query(`alter type level add value 'lowest' before 'low'`);
  await database.query(`alter table public.alarms alter column n type integer using n::integer`);
  await database.query(`insert into public.alarms (lvl, n) values ('urgent', 10), ('lowest', 8), ('high', 100)`);
  // Once the unfiltered subscription has every row, so has each filtered one (one connection, in order).
  const rows = async (sub: string, total: number) => {
    await ws.waitForChanges(total, all, WITHIN_MS);
    return ws.changes(sub).map((c) => `${c.row.lvl} ${c.row.n}`);
  };
  // As text, 10 and 100 are below 9.
  expect(await rows('above', 3)).toEqual(['urgent 10', 'high 100']);
  expect(await rows('below', 3)).toEqual(['lowest 8']);
  expect(await rows('big', 3)).toEqual(['urgent 10', 'high 100']);

  await database.query(`alter type level rename value 'normal' to 'medium'`);
  expect(await ws.waitFor((m) => m.type === 'error' && m.ref === 'normal', WITHIN_MS)).toMatchObject({
    code: 'invalid_message',
    message: 'filter on lvl: "normal" is not a level',
  });
  // The others go on; the renamed label orders where the old one stood.
  await ws.subscribe({ id: 'medium', table: 'alarms', filter: { lvl: 'lte.medium' } });
  await database.query(`insert into public.alarms (lvl, n) values ('medium', 1), ('urgent', 2)`);
  expect(await rows('medium', 5)).toEqual(['medium 1']);
  expect(await rows('above', 5)).toEqual(['urgent 10', 'high 100', 'urgent 2']);
  const told = ws.messages.filter((m) => m.type === 'error' && ['above', 'below', 'big', 'normal', 'medium'].includes(m.ref ?? ''));
  expect(told.map((m) => m.type === 'error' && m.ref)).toEqual(['normal']);
  ws.close();
});

test('a renamed or moved exposed table is served under its new name with its read rule; subscribers of the old name are told', async ({ rowcast, database }) => {
  await database.query('create table public.widgets (id bigserial primary key, name text)');
  await database.query("select rowcast.expose('public.widgets', roles => array['admin'])");
  const ws = await TestWsClient.connect(rowcast.url);
  const old = await subscribeWhenServed(ws, 'widgets');

  await database.query('alter table public.widgets rename to gizmos');
  expect(await ws.waitFor((m) => m.type === 'error' && m.ref === old, WITHIN_MS)).toMatchObject({ code: 'unknown_table' });
  const renamed = await subscribeWhenServed(ws, 'gizmos');
  expect(await tableInfo(rowcast.url, 'gizmos')).toMatchObject({ read_rule: 'roles', primary_key: ['id'] });
  expect(await tableInfo(rowcast.url, 'widgets')).toBeUndefined();
  expect(await subscribeReply(ws, 'w', 'widgets')).toMatchObject({ type: 'error', code: 'unknown_table' });
  await database.query("insert into public.gizmos (name) values ('renamed')");
  const [change] = await ws.waitForChanges(1, renamed, WITHIN_MS);
  expect(change).toMatchObject({ schema: 'public', table: 'gizmos', op: 'INSERT', row: { name: 'renamed' } });

  // To another schema, then that schema renamed: the entry follows both.
  await database.query('create schema archive');
  await database.query('alter table public.gizmos set schema archive');
  expect(await ws.waitFor((m) => m.type === 'error' && m.ref === renamed, WITHIN_MS)).toMatchObject({ code: 'unknown_table' });
  const moved = await subscribeWhenServed(ws, 'archive.gizmos');
  await database.query('alter schema archive rename to attic');
  expect(await ws.waitFor((m) => m.type === 'error' && m.ref === moved, WITHIN_MS)).toMatchObject({ code: 'unknown_table' });
  const attic = await subscribeWhenServed(ws, 'attic.gizmos');
  expect(await tableInfo(rowcast.url, 'gizmos', 'attic')).toMatchObject({ read_rule: 'roles' });
  await database.query("update attic.gizmos set name = 'moved'");
  const [update] = await ws.waitForChanges(1, attic, WITHIN_MS);
  expect(update).toMatchObject({ schema: 'attic', table: 'gizmos', op: 'UPDATE', row: { name: 'moved' }, old: { name: 'renamed' } });

  const { rows } = await database.query("select table_schema, table_name, read_roles from rowcast.exposed_tables where table_name in ('widgets', 'gizmos')");
  expect(rows).toEqual([{ table_schema: 'attic', table_name: 'gizmos', read_roles: ['admin'] }]);
  await database.query("select rowcast.unexpose('attic.gizmos')");
  expect(await ws.waitFor((m) => m.type === 'error' && m.ref === attic, WITHIN_MS)).toMatchObject({ code: 'unknown_table' });
  ws.close();
});

test('a rename no event trigger saw is followed at the next start', async ({ database }) => {
  const first = await startTestServer(database.url);
  await database.query('create table public.ledgers (id bigserial primary key, note text)');
  await database.query("select rowcast.expose('public.ledgers', owner_column => 'note')");
  await first.close();
  await database.query('alter event trigger rowcast_ddl_alter disable');
  await database.query('alter table public.ledgers rename to journals');

  const second = await startTestServer(database.url);
  try {
    expect(await tableInfo(second.url, 'journals')).toMatchObject({ read_rule: 'owner' });
    expect(await tableInfo(second.url, 'ledgers')).toBeUndefined();
    const ws = await TestWsClient.connect(second.url);
    const sub = await subscribeWhenServed(ws, 'journals');
    await database.query("insert into public.journals (note) values ('after the start')");
    expect((await ws.waitForChanges(1, sub, WITHIN_MS))[0]).toMatchObject({ table: 'journals', row: { note: 'after the start' } });
    ws.close();
    // The start installed the event trigger again.
    const { rows } = await database.query("select evtenabled from pg_event_trigger where evtname = 'rowcast_ddl_alter'");
    expect(rows).toEqual([{ evtenabled: 'O' }]);
  } finally {
    await second.close();
  }
});

test('an entry whose oid is stale (a restore) does not take over another table', async ({ rowcast, database }) => {
  // A table exposed, then gone without DROP being seen, and its remembered oid now that of posts.
  await database.query('create table public.ghosts (id int primary key)');
  await database.query("select rowcast.expose('public.ghosts')");
  await database.query('alter event trigger rowcast_ddl_drop disable');
  await database.query('drop table public.ghosts');
  await database.query("update rowcast.exposed_tables set relid = 'public.posts'::regclass where table_name = 'ghosts'");

  const { rows } = await database.query('select rowcast.follow_renames() as n');
  expect(rows[0].n).toBe(0);
  const { rows: entries } = await database.query(
    "select table_name, relid = 'public.posts'::regclass as posts_oid from rowcast.exposed_tables where table_name in ('ghosts', 'posts') order by table_name",
  );
  expect(entries).toEqual([
    { table_name: 'ghosts', posts_oid: true },
    { table_name: 'posts', posts_oid: true },
  ]);
  expect(await tableInfo(rowcast.url, 'posts')).toMatchObject({ read_rule: 'authenticated' });
});

test('a name with a dot is refused by expose, and a rename to one stops serving the table', async ({ rowcast, database }) => {
  await database.query('create table public."a.b" (id int primary key)');
  await expect(database.query(`select rowcast.expose('public."a.b"')`)).rejects.toThrow(/has a dot in its name/);
  expect(await captureTriggers(database, 'public."a.b"')).toBe(0);

  await database.query('create table public.plain (id int primary key)');
  await database.query("select rowcast.expose('public.plain')");
  const ws = await TestWsClient.connect(rowcast.url);
  const sub = await subscribeWhenServed(ws, 'plain');
  await database.query('alter table public.plain rename to "x.y"');
  expect(await ws.waitFor((m) => m.type === 'error' && m.ref === sub, WITHIN_MS)).toMatchObject({ code: 'unknown_table' });
  expect(await captureTriggers(database, 'public."x.y"')).toBe(0);
  const { rows } = await database.query("select count(*)::int as n from rowcast.exposed_tables where table_name in ('plain', 'x.y')");
  expect(rows[0].n).toBe(0);
  ws.close();
});

test('a start creates and exposes again a demo table a DBA dropped', async ({ database }) => {
  const first = await startTestServer(database.url);
  await first.close();
  await database.query('drop table public.orders');

  const second = await startTestServer(database.url);
  try {
    expect(await tableInfo(second.url, 'orders')).toMatchObject({ read_rule: 'roles', primary_key: ['id'] });
    const ws = await TestWsClient.connect(second.url);
    const sub = await subscribeWhenServed(ws, 'orders');
    await database.query("insert into public.orders (order_number, total) values ('A-1', 5)");
    expect((await ws.waitForChanges(1, sub, WITHIN_MS))[0]).toMatchObject({ table: 'orders', row: { order_number: 'A-1', status: 'pending' } });
    ws.close();
  } finally {
    await second.close();
  }
});
