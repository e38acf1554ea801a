/**
 * A read rule belongs to a table, not to a name (CONTRACT §7: a client never
 * receives a row its rule hides, through resume, SSE or /changes): a table
 * dropped and created again under its name, or two tables swapping names,
 * must not serve the other table's history under their own rule; an owner
 * column renamed away (even one named like Object.prototype's "constructor")
 * owns nothing; owner columns whose values a string sub cannot tell apart
 * (json, arrays, composites) are refused at expose, and one altered to such
 * a type afterwards owns nothing.
 */
import type { RowcastServer } from '../src/server.js';
import type { TestDatabase } from './support/database.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { TestSseClient } from './support/sse-client.js';
import { bearer, connectAs, getJson, hmacToken, SECRET } from './support/tokens.js';
import { waitFor } from './support/wait.js';

const it = test.extend<{ server: RowcastServer }>({
  server: async ({ database }, use) => {
    const server = await startTestServer(database.url, { jwt: { secret: SECRET } });
    await use(server);
    await server.close();
  },
});

const tokenOf = (sub: string, role = 'user') => hmacToken({ sub, role });

/** Waits until `table` is served as `readRule` to this token. */
async function servedAs(server: RowcastServer, table: string, token: string, readRule: string): Promise<void> {
  await waitFor(async () => (await getJson(`${server.url}/tables`, bearer(token))).json?.tables?.some((t: { name: string; read_rule: string }) => t.name === table && t.read_rule === readRule), {
    what: `${table} to be served as ${readRule}`,
  });
}

/** The bodies of every change of `table` this token reads after `since` (or from the oldest): over WebSocket, SSE and /changes, until `last` arrives. */
async function bodiesEverywhere(server: RowcastServer, token: string, table: string, since: string, last: string): Promise<Record<string, string[]>> {
  const ws = await connectAs(server.url, token);
  const sse = new TestSseClient(`${server.url}/sse/${table}`, { ...bearer(token), 'last-event-id': since });
  try {
    await ws.subscribe({ id: 'r', table, since });
    await ws.waitFor((m) => m.type === 'change' && m.sub === 'r' && m.row.body === last);
    await waitFor(() => sse.events.some((e) => e.row.body === last), { what: 'the SSE resume to reach the last row' });
    const resumed = await getJson(`${server.url}/changes/${table}?since=${since}&limit=10000`, bearer(token));
    const oldest = await getJson(`${server.url}/changes/${table}?limit=10000`, bearer(token));
    const bodies = (changes: Array<{ row: Record<string, unknown> }>) => changes.map((c) => String(c.row.body));
    return { ws: bodies(ws.changes('r')), sse: bodies(sse.events), changes: bodies(resumed.json.changes), oldest: bodies(oldest.json.changes) };
  } finally {
    ws.close();
    sse.close();
  }
}

/** A cursor of `table` taken now, before the rows to come. */
async function cursorNow(server: RowcastServer, token: string, table: string): Promise<string> {
  const ws = await connectAs(server.url, token);
  try {
    return await ws.subscribe({ id: 'c', table });
  } finally {
    ws.close();
  }
}

/** The warnings PostgreSQL sends while running `statement`. */
async function warningsOf(database: TestDatabase, statement: string): Promise<string[]> {
  const client = await database.pool.connect();
  const warnings: string[] = [];
  const onNotice = (notice: { severity?: string; message?: string }) => {
    if (notice.severity === 'WARNING') warnings.push(String(notice.message));
  };
  client.on('notice', onNotice);
  try {
    await client.query(statement);
    return warnings;
  } finally {
    client.off('notice', onNotice);
    client.release();
  }
}

async function inTransaction(database: TestDatabase, statements: string[]): Promise<void> {
  const client = await database.pool.connect();
  try {
    await client.query('begin');
    for (const statement of statements) await client.query(statement);
    await client.query('commit');
  } finally {
    client.release();
  }
}

it('a table dropped and created again under its name does not serve the old one’s rows under its own rule', async ({ server, database }) => {
  await database.query("create table inbox (id int primary key, owner text, body text); select rowcast.expose('public.inbox', owner_column => 'owner')");
  const u1 = await tokenOf('u1');
  await servedAs(server, 'inbox', u1, 'owner');
  const since = await cursorNow(server, u1, 'inbox');
  await database.query("insert into inbox values (1, 'u1', 'mine'), (2, 'u2', 'secret of u2')");
  await waitFor(async () => (await getJson(`${server.url}/changes/inbox`, bearer(u1))).json?.changes?.length === 1, { what: 'u1 to read its row' });

  await database.query("drop table inbox; create table inbox (id int primary key, owner text, body text); select rowcast.expose('public.inbox')");
  await servedAs(server, 'inbox', u1, 'authenticated');
  await database.query("insert into inbox values (1, 'u2', 'new table row')");
  // Neither the old table's secret nor its "mine": that history is not the new table's.
  expect(await bodiesEverywhere(server, u1, 'inbox', since, 'new table row')).toEqual({ ws: ['new table row'], sse: ['new table row'], changes: ['new table row'], oldest: ['new table row'] });
});

it('two exposed tables swapping names serve, under each name, only what the table now behind it wrote there', async ({ server, database }) => {
  await database.query(`create table inbox (id int primary key, owner text, body text); create table inbox_next (id int primary key, owner text, body text);
    select rowcast.expose('public.inbox', owner_column => 'owner'); select rowcast.expose('public.inbox_next')`);
  const u1 = await tokenOf('u1');
  await servedAs(server, 'inbox_next', u1, 'authenticated');
  const since = await cursorNow(server, u1, 'inbox');
  // A live subscriber of the owner-rule inbox, told when the name passes to another table.
  const live = await connectAs(server.url, u1);
  await live.subscribe({ id: 'live', table: 'inbox' });
  await database.query("insert into inbox values (1, 'u1', 'mine'), (2, 'u2', 'secret of u2')");
  await live.waitForChanges(1, 'live');

  await inTransaction(database, ['alter table inbox rename to inbox_old', 'alter table inbox_next rename to inbox']);
  expect(await live.waitFor((m) => m.type === 'error' && m.ref === 'live')).toMatchObject({ code: 'forbidden' });
  live.close();
  await servedAs(server, 'inbox', u1, 'authenticated');
  await database.query("insert into inbox values (3, 'u2', 'after the swap')");
  expect(await bodiesEverywhere(server, u1, 'inbox', since, 'after the swap')).toEqual({ ws: ['after the swap'], sse: ['after the swap'], changes: ['after the swap'], oldest: ['after the swap'] });
});

it('an owner column renamed away owns nothing, also one named "constructor" (every sub refused, sub "null" too); each owner reads the rows written since under the new name once exposed so', async ({ server, database }) => {
  await database.query(`create table notes (id int primary key, "constructor" text, body text); select rowcast.expose('public.notes', owner_column => 'constructor')`);
  const u1 = await tokenOf('u1');
  await servedAs(server, 'notes', u1, 'owner');
  await database.query("insert into notes values (1, 'u1', 'before: u1''s')");
  // The DBA is warned that the rule now names nothing.
  expect(await warningsOf(database, 'alter table notes rename column "constructor" to owner_id')).toEqual([
    'rowcast: the read rule of public.notes names owner column constructor, which it no longer has: its rows are readable by admin only until rowcast.expose names the owner column again',
  ]);
  await waitFor(async () => (await getJson(`${server.url}/tables`, bearer(u1))).json.tables.some((t: { name: string; columns: Array<{ name: string }> }) => t.name === 'notes' && t.columns.some((c) => c.name === 'owner_id')), { what: 'the rename to be served' });
  await database.query("insert into notes values (2, 'u2', 'secret: u2''s')");
  // The rule names a column the rows no longer have: every sub is refused, over each transport.
  const nobody = await connectAs(server.url, await tokenOf('null'));
  nobody.send({ type: 'subscribe', id: 'n', table: 'notes' });
  expect(await nobody.waitFor((m) => m.type === 'error' && m.ref === 'n')).toMatchObject({ code: 'forbidden' });
  nobody.close();
  for (const sub of ['null', '{}', 'u1', 'u2']) {
    expect((await getJson(`${server.url}/changes/notes`, bearer(await tokenOf(sub)))).status, sub).toBe(403);
  }
  await database.query("select rowcast.expose('public.notes', owner_column => 'owner_id')");
  const bodies = async (sub: string) => (await getJson(`${server.url}/changes/notes`, bearer(await tokenOf(sub)))).json?.changes?.map((c: { row: { body: string } }) => c.row.body);
  await waitFor(async () => (await bodies('u2'))?.length === 1, { what: 'u2 to read its row by the new column' });
  // Rows logged before the rename name the old column: no one's.
  expect({ u1: await bodies('u1'), u2: await bodies('u2'), null: await bodies('null') }).toEqual({ u1: [], u2: ["secret: u2's"], null: [] });
});

it('expose refuses an owner column of json, jsonb, array or composite type; one altered to jsonb afterwards owns nothing (403 for every sub)', async ({ server, database }) => {
  await database.query('create type pair as (a int, b text); create table owned (id int primary key, j json, jb jsonb, arr text[], p pair, t text, body text)');
  for (const column of ['j', 'jb', 'arr', 'p']) {
    await expect(database.query(`select rowcast.expose('public.owned', owner_column => '${column}')`), column).rejects.toThrow(/an owner column holds a scalar/);
  }
  await database.query("select rowcast.expose('public.owned', owner_column => 't')");
  const seven = await tokenOf('7');
  await servedAs(server, 'owned', seven, 'owner');
  await database.query("alter table owned alter column t type jsonb using to_jsonb(t); insert into owned (id, t, body) values (1, '7', 'number 7'), (2, '\"7\"', 'string 7'), (3, '[7]', 'array 7')");
  await waitFor(async () => (await getJson(`${server.url}/changes/owned`, bearer(await tokenOf('admin', 'admin')))).json?.changes?.length === 3, { what: 'the rows to be logged' });
  // A string sub cannot tell jsonb's 7 from "7": no sub owns any of its rows, and each is told so.
  for (const sub of ['7', '"7"', '[7]']) {
    const { status, json } = await getJson(`${server.url}/changes/owned`, bearer(await tokenOf(sub)));
    expect({ sub, status, code: json?.error?.code }).toEqual({ sub, status: 403, code: 'forbidden' });
  }
});
