/**
 * CONTRACT §4, §7 — a subscription still being set up (a `subscribe` with
 * `since` whose backlog read is in flight) answers `auth`, `unsubscribe`, a
 * reused id and a closing socket as a live one does. Each race is made by
 * sending both messages in one tick against a backlog of more than a page,
 * so the read is still in flight; each test repeats it and asserts every run.
 */
import { pino } from 'pino';
import type { ServerMessage } from '../src/protocol.js';
import { startRowcast, type RowcastServer } from '../src/server.js';
import { expect, test, testConfig } from './support/fixtures.js';
import { bearer, connectAs, errorsOf, getJson, hmacToken, SECRET } from './support/tokens.js';
import { waitFor } from './support/wait.js';
import type { TestWsClient } from './support/ws-client.js';

/** More than one page (1000) of the log, so a `since` read takes a while. */
const BACKLOG = 1500;
const RUNS = 5;

const it = test.extend<{ serverErrors: string[]; server: RowcastServer }>({
  // biome-ignore lint: vitest fixtures take a destructured first argument
  serverErrors: async ({}, use) => {
    await use([]);
  },
  server: async ({ database, serverErrors }, use) => {
    // What the server logs at error level (a handler that threw, a failed subscribe): a test expects none.
    const log = pino({ level: 'error' }, { write: (line: string) => void serverErrors.push(line) });
    const server = await startRowcast(testConfig(database.url, { jwt: { secret: SECRET } }), log);
    await use(server);
    await server.close();
  },
});

const token = (sub: string, role: string) => hmacToken({ sub, role });

/**
 * Writes BACKLOG rows with `insert`, once the watcher (an admin subscribed to
 * the table) is in place; returns the cursor from before them once the watcher
 * has them all, so every `since` read has the whole backlog to page through.
 */
async function backlog(server: RowcastServer, table: string, insert: () => Promise<unknown>): Promise<{ since: string; watcher: TestWsClient }> {
  const watcher = await connectAs(server.url, await token('watcher', 'admin'));
  const since = await watcher.subscribe({ id: 'w', table });
  await insert();
  await watcher.waitForChanges(BACKLOG, 'w');
  return { since, watcher };
}

const ordersBacklog = (server: RowcastServer, database: { query(text: string): Promise<unknown> }) =>
  backlog(server, 'orders', () =>
    database.query(`insert into orders (order_number, total) select 'B-' || i, i from generate_series(1, ${BACKLOG}) i`),
  );

/** What a client got about one subscription id, in order: `subscribed`, `change B-1`, `error forbidden`, … */
function about(ws: TestWsClient, id: string): string[] {
  return ws.messages.flatMap((m: ServerMessage) => {
    if ((m.type === 'subscribed' || m.type === 'unsubscribed') && m.id === id) return [m.type];
    if (m.type === 'error' && m.ref === id) return [`error ${m.code}`];
    if (m.type === 'change' && m.sub === id) return [`change ${String(m.row.order_number ?? m.row.message)}`];
    return [];
  });
}

/** Changes of a subscription that arrived after the first frame `after` matches. */
function changesAfter(ws: TestWsClient, sub: string, after: (m: ServerMessage) => boolean) {
  const from = ws.messages.findIndex(after);
  expect(from).toBeGreaterThanOrEqual(0);
  return ws.messages.slice(from + 1).filter((m) => m.type === 'change' && m.sub === sub);
}

/** A resume from the backlog's cursor in run `run`: the backlog, the sentinels of the runs before, then this run's live one. */
const resumeUpTo = (run: number) => [
  ...Array.from({ length: BACKLOG }, (_, i) => `change B-${i + 1}`),
  ...Array.from({ length: run }, (_, i) => `change S-${i + 1}`),
];

it('`auth` with a role that may not read orders, sent while `subscribe orders since` is set up: forbidden, and no orders row after it', async ({ server, database, serverErrors }) => {
  const { since, watcher } = await ordersBacklog(server, database);
  const staff = await token('s1', 'staff');
  const user = await token('s1', 'user');
  for (let run = 1; run <= RUNS; run++) {
    const ws = await connectAs(server.url, staff);
    await ws.subscribe({ id: 'p', table: 'posts' });
    ws.send({ type: 'subscribe', id: 'o', table: 'orders', since });
    ws.send({ type: 'auth', token: user });
    await ws.waitFor((m) => m.type === 'authenticated');
    // A live order, and a post after it in the same transaction: once the post is here, so would the order be.
    await database.query(`begin; insert into orders (order_number) values ('S-${run}'); insert into posts (title) values ('S-${run}'); commit`);
    await watcher.waitFor((m) => m.type === 'change' && m.row.order_number === `S-${run}`);
    await ws.waitFor((m) => m.type === 'change' && m.sub === 'p' && m.row.title === `S-${run}`);

    expect(errorsOf(ws), `run ${run}`).toEqual(['forbidden o']);
    // Rows sent while the staff token held are fine; none once the user token took over.
    expect(changesAfter(ws, 'o', (m) => m.type === 'authenticated').length, `run ${run}: orders after authenticated`).toBe(0);
    expect(changesAfter(ws, 'o', (m) => m.type === 'error').length, `run ${run}: orders after forbidden`).toBe(0);
    ws.close();
  }
  watcher.close();
  expect(serverErrors).toEqual([]);
});

it('`subscribe orders` sent right after an `auth` to a role that may read orders is judged by that token: authenticated, then subscribed', async ({ server, serverErrors }) => {
  const user = await token('u1', 'user');
  const staff = await token('u1', 'staff');
  for (let run = 1; run <= RUNS; run++) {
    const ws = await connectAs(server.url, user);
    ws.send({ type: 'auth', token: staff });
    ws.send({ type: 'subscribe', id: 'o', table: 'orders' });
    await ws.waitFor((m) => (m.type === 'subscribed' && m.id === 'o') || (m.type === 'error' && m.ref === 'o'));
    const answers = ws.messages.filter((m) => m.type !== 'welcome').map((m) => (m.type === 'error' ? `error ${m.code}` : m.type));
    expect(answers, `run ${run}`).toEqual(['authenticated', 'subscribed']);
    ws.close();
  }
  expect(serverErrors).toEqual([]);
});

it('`subscribe orders since` sent right after an `auth` to a role that may not read orders: forbidden, no subscribed and no orders row', async ({ server, database, serverErrors }) => {
  // A short backlog, read before the token is verified: judged by the old token, it would all be sent.
  const watcher = await connectAs(server.url, await token('watcher', 'admin'));
  const since = await watcher.subscribe({ id: 'w', table: 'orders' });
  await database.query("insert into orders (order_number) select 'B-' || i from generate_series(1, 50) i");
  await watcher.waitForChanges(50, 'w');
  const staff = await token('s1', 'staff');
  const user = await token('s1', 'user');
  for (let run = 1; run <= RUNS; run++) {
    const ws = await connectAs(server.url, staff);
    ws.send({ type: 'auth', token: user });
    ws.send({ type: 'subscribe', id: 'o', table: 'orders', since });
    await ws.waitFor((m) => m.type === 'error' && m.ref === 'o');
    expect(about(ws, 'o'), `run ${run}`).toEqual(['error forbidden']);
    ws.close();
  }
  watcher.close();
  expect(serverErrors).toEqual([]);
});

it('an `auth` that may read more (user → admin) also ends the subscription with forbidden; subscribed again from its cursor it reads what the new token may', async ({ server, database, serverErrors }) => {
  const ws = await connectAs(server.url, await token('alice', 'user'));
  const since = await ws.subscribe({ id: 'n', table: 'notifications' });
  await database.query("insert into notifications (user_id, message) values ('alice', 'A-1'), ('bob', 'B-1')");
  await ws.waitForChanges(1, 'n');
  ws.send({ type: 'auth', token: await token('alice', 'admin') });
  await ws.waitFor((m) => m.type === 'authenticated');
  expect(errorsOf(ws)).toEqual(['forbidden n']);
  await ws.subscribe({ id: 'n2', table: 'notifications', since });
  const again = await ws.waitForChanges(2, 'n2');
  expect(again.map((c) => c.row.message)).toEqual(['A-1', 'B-1']);
  expect(about(ws, 'n').filter((a) => a.startsWith('change'))).toEqual(['change A-1']);
  ws.close();
  expect(serverErrors).toEqual([]);
});

it('`auth` switching sub alice → bob, sent while `subscribe notifications since` is set up: forbidden, and none of alice\'s rows reach bob', async ({ server, database, serverErrors }) => {
  const { since, watcher } = await backlog(server, 'notifications', () =>
    database.query(`insert into notifications (user_id, message) select case when i % 3 = 0 then 'bob' else 'alice' end, 'B-' || i from generate_series(1, ${BACKLOG}) i`),
  );
  const alice = await token('alice', 'user');
  const bob = await token('bob', 'user');
  for (let run = 1; run <= RUNS; run++) {
    const ws = await connectAs(server.url, alice);
    await ws.subscribe({ id: 'p', table: 'posts' });
    ws.send({ type: 'subscribe', id: 'n', table: 'notifications', since });
    ws.send({ type: 'auth', token: bob });
    await ws.waitFor((m) => m.type === 'authenticated');
    await database.query(`begin;
      insert into notifications (user_id, message) values ('alice', 'S-${run}'), ('bob', 'S-${run}');
      insert into posts (title) values ('S-${run}'); commit`);
    await watcher.waitFor((m) => m.type === 'change' && m.row.user_id === 'bob' && m.row.message === `S-${run}`);
    await ws.waitFor((m) => m.type === 'change' && m.sub === 'p' && m.row.title === `S-${run}`);

    expect(errorsOf(ws), `run ${run}`).toEqual(['forbidden n']);
    expect(changesAfter(ws, 'n', (m) => m.type === 'authenticated').length, `run ${run}: rows after authenticated as bob`).toBe(0);
    for (const change of ws.changes('n')) expect(change.row.user_id, `run ${run}`).toBe('alice');
    ws.close();
  }
  watcher.close();
  expect(serverErrors).toEqual([]);
});

it('`unsubscribe` of a subscription being set up answers `unsubscribed`, then nothing for it; the id is free again', async ({ server, database, serverErrors }) => {
  const { since, watcher } = await ordersBacklog(server, database);
  const staff = await token('s1', 'staff');
  for (let run = 1; run <= RUNS; run++) {
    const ws = await connectAs(server.url, staff);
    ws.send({ type: 'subscribe', id: 'r', table: 'orders', since });
    ws.send({ type: 'unsubscribe', id: 'r' });
    await ws.waitFor((m) => about(ws, 'r').length > 0);
    expect(about(ws, 'r'), `run ${run}`).toEqual(['unsubscribed']);
    // The same backlog read again, sent after: once it is all here, the cancelled read has long finished.
    await ws.subscribe({ id: 'fence', table: 'orders', since });
    await ws.waitForChanges(BACKLOG, 'fence');
    await ws.subscribe({ id: 'r', table: 'orders' });
    await database.query(`insert into orders (order_number) values ('S-${run}')`);
    await ws.waitFor((m) => m.type === 'change' && m.sub === 'r');

    expect(about(ws, 'r'), `run ${run}`).toEqual(['unsubscribed', 'subscribed', `change S-${run}`]);
    ws.close();
  }
  watcher.close();
  expect(serverErrors).toEqual([]);
});

it('subscribe, unsubscribe, subscribe again with one id in one tick: the second one alone runs, its backlog once', async ({ server, database, serverErrors }) => {
  const { since, watcher } = await ordersBacklog(server, database);
  const staff = await token('s1', 'staff');
  for (let run = 1; run <= RUNS; run++) {
    const ws = await connectAs(server.url, staff);
    ws.send({ type: 'subscribe', id: 'r', table: 'orders', since });
    ws.send({ type: 'unsubscribe', id: 'r' });
    ws.send({ type: 'subscribe', id: 'r', table: 'orders', since });
    await ws.waitForChanges(BACKLOG, 'r');
    await database.query(`insert into orders (order_number) values ('S-${run}')`);
    await ws.waitFor((m) => m.type === 'change' && m.sub === 'r' && m.row.order_number === `S-${run}`);

    expect(about(ws, 'r'), `run ${run}`).toEqual(['unsubscribed', 'subscribed', ...resumeUpTo(run)]);
    ws.close();
  }
  watcher.close();
  expect(serverErrors).toEqual([]);
});

it('a second `subscribe` reusing the id of one being set up is refused; the first delivers its backlog once', async ({ server, database, serverErrors }) => {
  const { since, watcher } = await ordersBacklog(server, database);
  const staff = await token('s1', 'staff');
  for (let run = 1; run <= RUNS; run++) {
    const ws = await connectAs(server.url, staff);
    ws.send({ type: 'subscribe', id: 'r', table: 'orders', since });
    ws.send({ type: 'subscribe', id: 'r', table: 'posts' });
    await ws.waitForChanges(BACKLOG, 'r');
    await database.query(`insert into orders (order_number) values ('S-${run}')`);
    await ws.waitFor((m) => m.type === 'change' && m.sub === 'r' && m.row.order_number === `S-${run}`);

    expect(about(ws, 'r'), `run ${run}`).toEqual(['error invalid_message', 'subscribed', ...resumeUpTo(run)]);
    ws.close();
  }
  watcher.close();
  expect(serverErrors).toEqual([]);
});

it('a cancelled subscription whose cursor turns out to be refused reports nothing', async ({ server, serverErrors }) => {
  const ws = await connectAs(server.url, await token('s1', 'staff'));
  // Far ahead of this log: refused with cursor_expired once read.
  const ahead = 'zzzzzzzzzz_0';
  for (let run = 1; run <= RUNS; run++) {
    ws.send({ type: 'subscribe', id: `r${run}`, table: 'orders', since: ahead });
    ws.send({ type: 'unsubscribe', id: `r${run}` });
    // The same read, sent after: once it is refused, the cancelled one has been too.
    ws.send({ type: 'subscribe', id: `fence${run}`, table: 'orders', since: ahead });
    await ws.waitFor((m) => m.type === 'error' && m.ref === `fence${run}`);
    expect(errorsOf(ws).at(-1), `run ${run}`).toBe(`cursor_expired fence${run}`);
    expect(about(ws, `r${run}`), `run ${run}`).toEqual(['unsubscribed']);
  }
  ws.close();
  expect(serverErrors).toEqual([]);
});

it('a socket closed while its subscription is set up leaves no subscription behind, and nothing is thrown', async ({ server, database, serverErrors }) => {
  const { since, watcher } = await ordersBacklog(server, database);
  const staff = await token('s1', 'staff');
  const stats = async () => (await getJson(`${server.url}/stats`, bearer(staff))).json;
  for (let run = 1; run <= RUNS; run++) {
    const ws = await connectAs(server.url, staff);
    ws.send({ type: 'subscribe', id: 'r', table: 'orders', since });
    ws.close();
    await ws.closed;
    // Only the watcher's subscription and connection remain.
    await waitFor(async () => {
      const s = await stats();
      return s.subscriptions === 1 && s.connections.ws === 1;
    }, { what: `run ${run}: the closed socket's subscription to go` });
  }
  // The server still serves the same resume.
  const ws = await connectAs(server.url, staff);
  await ws.subscribe({ id: 'r', table: 'orders', since });
  expect((await ws.waitForChanges(BACKLOG, 'r')).length).toBe(BACKLOG);
  ws.close();
  watcher.close();
  expect(serverErrors).toEqual([]);
});
