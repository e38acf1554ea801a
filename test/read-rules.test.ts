/**
 * CONTRACT §7 — who sees what: owner rows, role-limited tables, open tables,
 * on every way in (live, filters, resume, SSE, /changes), a DBA changing a
 * rule while clients are subscribed, and a token refreshed with another role.
 */
import type { RowcastServer } from '../src/server.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { TestSseClient } from './support/sse-client.js';
import { bearer, connectAs, errorsOf, getJson, hmacToken, SECRET, within } from './support/tokens.js';
import { waitFor } from './support/wait.js';
import type { TestWsClient } from './support/ws-client.js';

const it = test.extend<{ server: RowcastServer }>({
  server: async ({ database }, use) => {
    const server = await startTestServer(database.url, { jwt: { secret: SECRET } });
    await use(server);
    await server.close();
  },
});

const token = (sub: string | undefined, role: unknown) => hmacToken({ ...(sub === undefined ? {} : { sub }), ...(role === undefined ? {} : { role }) });

/** Rows of u1 (two), of others (with "secret" in them), changes to them, then u1's sentinel last. */
async function seedNotifications(database: { query(text: string): Promise<unknown> }): Promise<void> {
  await database.query(`insert into notifications (user_id, kind, message) values
    ('u1', 'a', 'mine 1'), ('u2', 'a', 'secret u2 1'), ('u3', 'a', 'secret u3'), ('U1', 'a', 'secret upper'),
    ('u1 ', 'a', 'secret space'), ('u2', 'a', 'secret u2 2'), ('u1', 'a', 'mine 2')`);
  await database.query("update notifications set read = true, message = message || ' (read)' where user_id in ('u1', 'u2')");
  await database.query("delete from notifications where user_id = 'u3' or message like 'mine 2%'");
  await database.query("insert into notifications (user_id, kind, message) values ('u1', 'a', 'sentinel')");
}

const isSentinel = (row: Record<string, unknown>) => row.message === 'sentinel';
/** What u1 must see of the seed, as "OP message". */
const U1_SEES = ['INSERT mine 1', 'INSERT mine 2', 'UPDATE mine 1 (read)', 'UPDATE mine 2 (read)', 'DELETE mine 2 (read)', 'INSERT sentinel'];
const shape = (changes: Array<{ op: string; row: Record<string, unknown> }>) => changes.map((c) => `${c.op} ${String(c.row.message)}`);

function expectOnlyU1(what: string, changes: Array<{ row: Record<string, unknown>; old: Record<string, unknown> | null }>): void {
  for (const change of changes) {
    expect(change.row.user_id, what).toBe('u1');
    if (change.old) expect(change.old.user_id, what).toBe('u1');
  }
  expect(JSON.stringify(changes), what).not.toContain('secret');
}

it('notifications over WebSocket: u1 gets only its own rows, whatever filter it asks for', async ({ server, database }) => {
  const a = await connectAs(server.url, await token('u1', 'user'));
  const b = await connectAs(server.url, await token('u2', 'user'));
  await a.subscribe({ id: 'all', table: 'notifications' });
  await a.subscribe({ id: 'eqU2', table: 'notifications', filter: { user_id: 'eq.u2' } });
  await a.subscribe({ id: 'inBoth', table: 'notifications', filter: { user_id: 'in.(u1,u2,u3,U1)' } });
  await a.subscribe({ id: 'neqU1', table: 'notifications', filter: { user_id: 'neq.u1' } });
  await a.subscribe({ id: 'secret', table: 'notifications', filter: { message: 'eq.secret u2 1' } });
  await b.subscribe({ id: 'all', table: 'notifications' });
  await seedNotifications(database);

  await a.waitFor((m) => m.type === 'change' && m.sub === 'inBoth' && isSentinel(m.row));
  await a.waitFor((m) => m.type === 'change' && m.sub === 'all' && isSentinel(m.row));
  expect(shape(a.changes('all'))).toEqual(U1_SEES);
  expect(shape(a.changes('inBoth'))).toEqual(U1_SEES);
  expect(a.changes('eqU2')).toEqual([]);
  expect(a.changes('neqU1')).toEqual([]);
  expect(a.changes('secret')).toEqual([]);
  expectOnlyU1('u1 live', a.changes());
  // Positive control: the rows exist and flow, to their owner.
  await b.waitForChanges(4, 'all');
  expect(shape(b.changes('all'))).toEqual(['INSERT secret u2 1', 'INSERT secret u2 2', 'UPDATE secret u2 1 (read)', 'UPDATE secret u2 2 (read)']);
  a.close();
  b.close();
});

it('notifications on resume from an early cursor, over SSE and over /changes: still only u1 rows', async ({ server, database }) => {
  const u1 = await token('u1', 'user');
  const first = await connectAs(server.url, u1);
  const early = await first.subscribe({ id: 'n', table: 'notifications' });
  first.close();
  await seedNotifications(database);

  const resumed = await connectAs(server.url, u1);
  await resumed.subscribe({ id: 'r', table: 'notifications', since: early });
  await resumed.subscribe({ id: 'rU2', table: 'notifications', since: early, filter: { user_id: 'eq.u2' } });
  await resumed.waitFor((m) => m.type === 'change' && m.sub === 'r' && isSentinel(m.row));
  expect(shape(resumed.changes('r'))).toEqual(U1_SEES);
  expect(resumed.changes('rU2')).toEqual([]);
  expectOnlyU1('resume', resumed.changes());

  const sseHeader = new TestSseClient(`${server.url}/sse/notifications?since=${early}&user_id=in.(u1,u2,u3)`, bearer(u1));
  const sseQuery = new TestSseClient(`${server.url}/sse/notifications?token=${u1}`, { 'last-event-id': early });
  for (const sse of [sseHeader, sseQuery]) {
    await waitFor(() => sse.events.some((e) => isSentinel(e.row)), { what: 'the sentinel over SSE' });
    expect(shape(sse.events)).toEqual(U1_SEES);
    expectOnlyU1('sse', sse.events);
    sse.close();
  }

  const fromOldest = await getJson(`${server.url}/changes/notifications`, bearer(u1));
  expect(fromOldest.status).toBe(200);
  expect(shape(fromOldest.json.changes)).toEqual(U1_SEES);
  const askedForU2 = await getJson(`${server.url}/changes/notifications?since=${early}&user_id=eq.u2`, bearer(u1));
  expect(askedForU2.json.changes).toEqual([]);
  // Paging one change at a time never shows another user's row either.
  const paged: Array<{ op: string; row: Record<string, unknown>; old: Record<string, unknown> | null }> = [];
  let cursor = early;
  for (let page = 0; page < 50; page++) {
    const { json } = await getJson(`${server.url}/changes/notifications?since=${cursor}&limit=1&token=${u1}`);
    paged.push(...json.changes);
    if (json.changes.length === 0) break;
    cursor = json.cursor;
  }
  expect(shape(paged)).toEqual(U1_SEES);
  expectOnlyU1('/changes', [...fromOldest.json.changes, ...paged]);
  resumed.close();
});

it('a row handed over from u2 to u1 does not show u1 what it held while it was u2\'s (the `old` image), on any transport', async ({ server, database }) => {
  const u1 = await token('u1', 'user');
  const a = await connectAs(server.url, u1);
  const early = await a.subscribe({ id: 'n', table: 'notifications' });
  await database.query("insert into notifications (user_id, kind, message) values ('u2', 'dm', 'secret of u2')");
  await database.query("update notifications set user_id = 'u1', message = 'now yours' where message = 'secret of u2'");
  await database.query("insert into notifications (user_id, kind, message) values ('u1', 'a', 'sentinel')");
  await a.waitFor((m) => m.type === 'change' && isSentinel(m.row));
  expect(a.changes().find((c) => c.op === 'UPDATE')?.row.message).toBe('now yours');
  expect(JSON.stringify(a.messages)).not.toContain('secret of u2');
  const sse = new TestSseClient(`${server.url}/sse/notifications?since=${early}`, bearer(u1));
  await waitFor(() => sse.events.some((e) => isSentinel(e.row)), { what: 'the sentinel over SSE' });
  sse.close();
  const polled = await getJson(`${server.url}/changes/notifications`, bearer(u1));
  for (const [what, changes] of [['SSE', sse.events], ['/changes', polled.json.changes]] as const) {
    expect(shape(changes), what).toEqual(['UPDATE now yours', 'INSERT sentinel']);
    expect(JSON.stringify(changes), what).not.toContain('secret of u2');
  }
  a.close();
});

it('orders: role user is forbidden on WS, SSE, /changes and /tables; staff and admin read them; admin reads every notification', async ({ server, database }) => {
  for (const [who, jwt] of [
    ['role user', await token('u1', 'user')],
    ['no role', await token('u1', undefined)],
    ['role ADMIN', await token('u1', 'ADMIN')],
    ['role as an array', await token('u1', ['admin'])],
  ] as const) {
    const ws = await connectAs(server.url, jwt);
    const early = await ws.subscribe({ id: 'p', table: 'posts' });
    ws.send({ type: 'subscribe', id: 'o', table: 'orders' });
    ws.send({ type: 'subscribe', id: 'o2', table: 'orders', since: early });
    await ws.waitFor((m) => m.type === 'error' && m.ref === 'o2');
    expect(errorsOf(ws), who).toEqual(['forbidden o', 'forbidden o2']);
    const sse = await getJson(`${server.url}/sse/orders`, bearer(jwt));
    expect([sse.status, sse.json?.error?.code], who).toEqual([403, 'forbidden']);
    const changes = await getJson(`${server.url}/changes/orders`, bearer(jwt));
    expect([changes.status, changes.json?.error?.code], who).toEqual([403, 'forbidden']);
    const tables = await getJson(`${server.url}/tables`, bearer(jwt));
    expect(tables.json.tables.map((t: { name: string }) => t.name), who).not.toContain('orders');
    ws.close();
  }
  const staff = await connectAs(server.url, await token('s1', 'staff'));
  const admin = await connectAs(server.url, await token('a1', 'admin'));
  await staff.subscribe({ id: 'o', table: 'orders' });
  await admin.subscribe({ id: 'o', table: 'orders' });
  await admin.subscribe({ id: 'n', table: 'notifications' });
  await database.query("insert into orders (order_number, total) values ('R-1', 10)");
  await database.query("insert into notifications (user_id, message) values ('u1', 'x'), ('u2', 'y')");
  expect((await staff.waitForChanges(1, 'o'))[0]?.row.order_number).toBe('R-1');
  expect((await admin.waitForChanges(1, 'o'))[0]?.row.order_number).toBe('R-1');
  expect((await admin.waitForChanges(2, 'n')).map((c) => c.row.user_id)).toEqual(['u1', 'u2']);
  expect((await getJson(`${server.url}/changes/orders`, bearer(await token('s1', 'staff')))).json.changes).toHaveLength(1);
  staff.close();
  admin.close();
});

it('posts are readable by any authenticated client; notifications need a sub', async ({ server, database }) => {
  const clients: TestWsClient[] = [];
  for (const jwt of [await token('u1', 'user'), await token(undefined, undefined), await token('x', 'nobody')]) {
    const ws = await connectAs(server.url, jwt);
    await ws.subscribe({ id: 'p', table: 'posts' });
    clients.push(ws);
  }
  await database.query("insert into posts (author_id, title) values ('u7', 'public')");
  for (const ws of clients) expect((await ws.waitForChanges(1, 'p'))[0]?.row.title).toBe('public');
  const anonymous = clients[1] as TestWsClient;
  anonymous.send({ type: 'subscribe', id: 'n', table: 'notifications' });
  await anonymous.waitFor((m) => m.type === 'error' && m.ref === 'n');
  expect(errorsOf(anonymous)).toEqual(['forbidden n']);
  for (const ws of clients) ws.close();
});

it('a DBA rule change applies without restart: subscriptions it forbids end, new ones are refused, and back', async ({ server, database }) => {
  const userJwt = await token('u1', 'user');
  const user = await connectAs(server.url, userJwt);
  const staff = await connectAs(server.url, await token('s1', 'staff'));
  await user.subscribe({ id: 'p', table: 'posts' });
  await staff.subscribe({ id: 'p', table: 'posts' });
  const userSse = await fetch(`${server.url}/sse/posts`, { headers: bearer(userJwt) });
  expect(userSse.status).toBe(200);

  await database.query("select rowcast.expose('public.posts', roles => array['staff'])");
  await user.waitFor((m) => m.type === 'error' && m.ref === 'p', 4000);
  expect(errorsOf(user)).toEqual(['forbidden p']);
  const sseText = await within(userSse.text(), 4000, 'the SSE stream of the user to end');
  expect(sseText).toMatch(/event: error\ndata: .*forbidden/);
  await database.query("insert into posts (title) values ('staff only')");
  expect((await staff.waitForChanges(1, 'p'))[0]?.row.title).toBe('staff only');
  user.send({ type: 'subscribe', id: 'p2', table: 'posts' });
  await user.waitFor((m) => m.type === 'error' && m.ref === 'p2');
  expect(errorsOf(user)).toEqual(['forbidden p', 'forbidden p2']);
  expect((await getJson(`${server.url}/changes/posts`, bearer(userJwt))).status).toBe(403);

  await database.query("select rowcast.expose('public.posts')");
  await waitFor(async () => (await getJson(`${server.url}/changes/posts`, bearer(userJwt))).status === 200, { timeoutMs: 4000, what: 'posts open again' });
  await user.subscribe({ id: 'p3', table: 'posts' });
  await database.query("insert into posts (title) values ('open again')");
  expect((await user.waitForChanges(1, 'p3'))[0]?.row.title).toBe('open again');
  expect(user.changes().map((c) => c.row.title)).toEqual(['open again']);
  user.close();
  staff.close();
});

it('refreshing the token with another role or sub through `auth` ends the subscriptions it may no longer read', async ({ server, database }) => {
  const ws = await connectAs(server.url, await token('u1', 'staff'));
  await ws.subscribe({ id: 'o', table: 'orders' });
  await ws.subscribe({ id: 'p', table: 'posts' });
  await ws.subscribe({ id: 'n', table: 'notifications' });
  ws.send({ type: 'auth', token: await token('u2', 'user') });
  await ws.waitFor((m) => m.type === 'authenticated');
  await ws.waitFor((m) => m.type === 'error' && m.ref === 'n');
  expect(errorsOf(ws).sort()).toEqual(['forbidden n', 'forbidden o']);
  await database.query("insert into orders (order_number) values ('hidden')");
  await database.query("insert into notifications (user_id, message) values ('u1', 'secret of u1')");
  await database.query("insert into posts (title) values ('visible')");
  await ws.waitForChanges(1, 'p');
  expect(ws.changes().map((c) => `${c.sub} ${c.table}`)).toEqual(['p posts']);
  ws.send({ type: 'subscribe', id: 'o2', table: 'orders' });
  await ws.waitFor((m) => m.type === 'error' && m.ref === 'o2');
  expect(errorsOf(ws)).toContain('forbidden o2');
  ws.close();
});
