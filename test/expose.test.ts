/**
 * CONTRACT §2: a DBA exposes and unexposes tables while the server runs, in
 * SQL or with the CLI, and the server follows within 2 seconds.
 */
import {
  Kysely,
  PostgresDialect,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from 'kysely';
import type { RowcastTables } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { TableCatalog } from '../src/hub/table-catalog.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { WITHIN_MS, captureTriggers, subscribeReply, subscribeWhenServed, tableInfo } from './support/exposure.js';
import { runCli } from './support/server-process.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

test('a table exposed in SQL is served within 2 s, follows rule changes, and stops when unexposed', async ({ rowcast, database }) => {
  await database.query('create table public.invoices (id bigserial primary key, customer_id text, amount numeric(12,2))');
  const ws = await TestWsClient.connect(rowcast.url);
  const before = await subscribeReply(ws, 'before', 'invoices');
  expect(before).toMatchObject({ type: 'error', code: 'unknown_table', ref: 'before' });
  expect(await tableInfo(rowcast.url, 'invoices')).toBeUndefined();

  await database.query("select rowcast.expose('public.invoices')");
  const sub = await subscribeWhenServed(ws, 'invoices');
  await database.query("insert into invoices (customer_id, amount) values ('c1', 10)");
  const [first] = await ws.waitForChanges(1, sub, WITHIN_MS);
  expect(first).toMatchObject({ table: 'invoices', schema: 'public', op: 'INSERT', row: { customer_id: 'c1', amount: 10 } });
  expect(await tableInfo(rowcast.url, 'invoices')).toMatchObject({
    primary_key: ['id'],
    read_rule: 'authenticated',
    columns: [
      { name: 'id', type: 'bigint', nullable: false },
      { name: 'customer_id', type: 'text', nullable: true },
      { name: 'amount', type: 'numeric(12,2)', nullable: true },
    ],
  });

  // Idempotent: same rule, one set of triggers, each row captured once, the subscriber untouched.
  await database.query("select rowcast.expose('public.invoices')");
  await database.query("select rowcast.expose('public.invoices')");
  expect(await captureTriggers(database, 'public.invoices')).toBe(3);
  const { rows: registered } = await database.query("select count(*)::int as n from rowcast.exposed_tables where table_name = 'invoices'");
  expect(registered[0].n).toBe(1);
  await database.query("insert into invoices (customer_id, amount) values ('c2', 20)");
  await database.query("insert into invoices (customer_id, amount) values ('c3', 30)");
  // Commit order: when c3 arrives, a duplicate of c2 would have arrived before it.
  await ws.waitFor((m) => m.type === 'change' && m.sub === sub && m.row.customer_id === 'c3', WITHIN_MS);
  expect(ws.changes(sub).map((c) => c.row.customer_id)).toEqual(['c1', 'c2', 'c3']);

  // A new rule shows in /tables; this client (admin in open dev mode) may still read.
  await database.query("select rowcast.expose('public.invoices', roles => array['staff'])");
  await waitFor(async () => (await tableInfo(rowcast.url, 'invoices'))?.read_rule === 'roles', {
    timeoutMs: WITHIN_MS,
    what: "invoices' read_rule to become roles",
  });
  await database.query("insert into invoices (customer_id, amount) values ('c4', 40)");
  await ws.waitFor((m) => m.type === 'change' && m.sub === sub && m.row.customer_id === 'c4', WITHIN_MS);

  // Unexpose: the subscriber gets an error frame, then nothing more of invoices.
  const posts = await subscribeReply(ws, 'posts', 'posts');
  expect(posts.type).toBe('subscribed');
  await database.query("select rowcast.unexpose('public.invoices')");
  const ended = await ws.waitFor((m) => m.type === 'error' && m.ref === sub, WITHIN_MS);
  expect(ended).toMatchObject({ type: 'error', code: 'unknown_table' });
  await database.query("insert into invoices (customer_id, amount) values ('c5', 50)");
  await database.query("insert into posts (title) values ('after unexpose')");
  // Changes arrive in commit order: once the post is here, a c5 change would be too.
  await ws.waitForChanges(1, 'posts', WITHIN_MS);
  expect(ws.changes(sub).map((c) => c.row.customer_id)).toEqual(['c1', 'c2', 'c3', 'c4']);
  expect(await captureTriggers(database, 'public.invoices')).toBe(0);

  const after = await waitFor(
    async () => {
      const reply = await subscribeReply(ws, `after-${Date.now()}`, 'invoices');
      return reply.type === 'error' && reply.code === 'unknown_table' ? reply : false;
    },
    { timeoutMs: WITHIN_MS, what: 'subscribing to invoices to be refused' },
  );
  expect(after).toMatchObject({ code: 'unknown_table' });
  expect(await tableInfo(rowcast.url, 'invoices')).toBeUndefined();
  expect(ws.malformed).toEqual([]);
  ws.close();
});

test("an owner rule shows in /tables as 'owner'", async ({ rowcast, database }) => {
  await database.query('create table public.tickets (id int primary key, owner_id text)');
  await database.query("select rowcast.expose('public.tickets', owner_column => 'owner_id')");
  await waitFor(async () => (await tableInfo(rowcast.url, 'tickets'))?.read_rule === 'owner', {
    timeoutMs: WITHIN_MS,
    what: 'tickets to be listed with an owner rule',
  });
});

test('expose of a table without primary key fails in SQL and serves nothing', async ({ rowcast, database }) => {
  await database.query('create table public.loose (a int)');
  await expect(database.query("select rowcast.expose('public.loose')")).rejects.toThrow(/has no primary key/);
  const ws = await TestWsClient.connect(rowcast.url);
  expect(await subscribeReply(ws, 'l', 'loose')).toMatchObject({ type: 'error', code: 'unknown_table' });
  ws.close();
});

test("the CLI's expose and unexpose reach a running server within 2 s", async ({ rowcast, database }) => {
  await database.query('create table public.receipts (id bigserial primary key, total numeric)');
  const exposed = await runCli(['expose', 'public.receipts', '--roles', 'staff'], { DATABASE_URL: database.url });
  expect(exposed, exposed.stderr).toMatchObject({ code: 0 });
  await waitFor(async () => (await tableInfo(rowcast.url, 'receipts'))?.read_rule === 'roles', {
    timeoutMs: WITHIN_MS,
    what: 'the server to list receipts',
  });
  const ws = await TestWsClient.connect(rowcast.url);
  const sub = await subscribeWhenServed(ws, 'receipts');
  await database.query('insert into receipts (total) values (9.5)');
  const [change] = await ws.waitForChanges(1, sub, WITHIN_MS);
  expect(change?.row.total).toBe(9.5);

  const unexposed = await runCli(['unexpose', 'public.receipts'], { DATABASE_URL: database.url });
  expect(unexposed, unexposed.stderr).toMatchObject({ code: 0 });
  await ws.waitFor((m) => m.type === 'error' && m.ref === sub && m.code === 'unknown_table', WITHIN_MS);
  await waitFor(async () => (await tableInfo(rowcast.url, 'receipts')) === undefined, {
    timeoutMs: WITHIN_MS,
    what: 'the server to drop receipts',
  });
  ws.close();
});

/** Holds the result of the first query after `arm()` until `release()`: a slow catalog reload. */
class HoldFirstResult implements KyselyPlugin {
  queries = 0;
  holding = false;
  private armed = false;
  private held = false;
  private open: () => void = () => {};
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));

  arm(): void {
    this.armed = true;
  }

  release(): void {
    this.open();
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.queries += 1;
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.armed && !this.held) {
      this.held = true;
      this.holding = true;
      await this.gate;
    }
    return args.result;
  }
}

test('catalog reloads that finish out of order leave the latest state', async ({ database }) => {
  // Two rowcast_control notifications close together start two reloads; the
  // older one may finish last. It must not overwrite what the newer one read.
  await migrate(new Kysely<unknown>({ dialect: new PostgresDialect({ pool: database.pool }) }));
  await database.query('create table public.racy (id int primary key)');
  await database.query("select rowcast.expose('public.racy')");
  const plugin = new HoldFirstResult();
  const catalog = new TableCatalog(new Kysely<RowcastTables>({ dialect: new PostgresDialect({ pool: database.pool }), plugins: [plugin] }));
  await catalog.refresh();
  expect(catalog.get('public.racy')).toBeDefined();

  plugin.arm();
  const older = catalog.refresh();
  await waitFor(() => plugin.holding, { what: 'the first reload to have read the catalog' });
  await database.query("select rowcast.unexpose('public.racy')");
  const queriesBefore = plugin.queries;
  const newer = catalog.refresh();
  // One event-loop turn: a reload that does not wait for the older one has issued its query by now.
  await new Promise((resolve) => setImmediate(resolve));
  if (plugin.queries > queriesBefore) await newer;
  plugin.release();
  await Promise.all([older, newer]);
  expect(catalog.get('public.racy')).toBeUndefined();
});

test('a start moves triggers of the old generic rowcast.capture() to the per-operation functions, and they capture', async ({ database }) => {
  const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: database.pool }) });
  await migrate(kysely);
  await database.query('create table public.legacy (id int primary key, v text)');
  await database.query("select rowcast.expose('public.legacy')");
  // The install of an earlier version: one generic function behind all three triggers.
  await database.query(`create function rowcast.capture() returns trigger language plpgsql as $$ begin return null; end $$`);
  await database.query(`do $$
    declare tbl regclass;
    begin
      for tbl in select format('%I.%I', table_schema, table_name)::regclass from rowcast.exposed_tables loop
        perform rowcast.drop_capture_triggers(tbl);
        execute format('create trigger rowcast_capture_insert after insert on %s referencing new table as rowcast_new for each statement execute function rowcast.capture()', tbl);
        execute format('create trigger rowcast_capture_update after update on %s referencing old table as rowcast_old new table as rowcast_new for each statement execute function rowcast.capture()', tbl);
        execute format('create trigger rowcast_capture_delete after delete on %s referencing old table as rowcast_old for each statement execute function rowcast.capture()', tbl);
      end loop;
    end $$`);

  await migrate(kysely);
  const { rows: functions } = await database.query(
    "select tgname, tgfoid::regproc::text as fn from pg_trigger where tgrelid = 'public.legacy'::regclass and tgname like 'rowcast_capture_%' order by tgname",
  );
  expect(functions).toEqual([
    { tgname: 'rowcast_capture_delete', fn: 'rowcast.capture_delete' },
    { tgname: 'rowcast_capture_insert', fn: 'rowcast.capture_insert' },
    { tgname: 'rowcast_capture_update', fn: 'rowcast.capture_update' },
  ]);
  const { rows: old } = await database.query("select to_regprocedure('rowcast.capture()') is null as gone");
  expect(old[0].gone).toBe(true);

  const server = await startTestServer(database.url);
  try {
    const ws = await TestWsClient.connect(server.url);
    await ws.subscribe({ id: 'l', table: 'legacy' });
    await database.query("insert into public.legacy values (1, 'a')");
    await database.query("update public.legacy set v = 'b' where id = 1");
    await database.query('delete from public.legacy where id = 1');
    const changes = await ws.waitForChanges(3, 'l');
    expect(changes.map((c) => [c.op, c.row, c.old])).toEqual([
      ['INSERT', { id: 1, v: 'a' }, null],
      ['UPDATE', { id: 1, v: 'b' }, { id: 1, v: 'a' }],
      ['DELETE', { id: 1, v: 'b' }, { id: 1, v: 'b' }],
    ]);
    ws.close();
  } finally {
    await server.close();
  }
});
