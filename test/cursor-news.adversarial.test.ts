/**
 * Adversarial tests of the cursors the server hands over for quiet
 * subscriptions (SSE `event: cursor`, WebSocket `{type:"cursor"}`, see README
 * "Cursors for quiet subscriptions"): a client that resumes from the newest
 * cursor it holds, a change's id or such a cursor, must get exactly what it
 * would have received, with no gap and no duplicate. Real sockets, real
 * PostgreSQL; the oracle is the writers' ledger and the change log read back
 * through /changes from an early cursor (support/feed-log.ts). The clients
 * also check the order of what each connection is told (support/resumer.ts).
 */
import type pg from 'pg';
import { onTestFinished } from 'vitest';
import { compareCursors, decodeCursor } from '../src/capture/cursor.js';
import type { ChangeEvent } from '../src/protocol.js';
import type { RowcastServer } from '../src/server.js';
import { deliveryProblems } from './support/delivery-check.js';
import { feedProblems, readLog } from './support/feed-log.js';
import { describe, expect, startTestServer, test } from './support/fixtures.js';
import type { Resumer, SubscriptionSpec } from './support/resumer.js';
import { SseResumer, WsResumer } from './support/resuming-clients.js';
import { openSse, sseEvents } from './support/sse-stream.js';
import { hmacToken, SECRET } from './support/tokens.js';
import { waitFor } from './support/wait.js';
import { prng, runWorkload } from './support/workload.js';
import { changeKey, Ledger, Tx } from './support/writers.js';
import { TestWsClient } from './support/ws-client.js';

const SEED = Number(process.env.ROWCAST_TEST_SEED ?? 20_261_203);
const FAST = { sseKeepAliveMs: 10, heartbeatMs: 50 } as const;
const ids = (events: readonly { id: string }[]) => events.map((e) => e.id);

// ---------------------------------------------------------------------------
// Oracles and writers.

/** Big multi-page transactions on `orders` until `ms` passed: each pass of the feed reads several pages. */
async function bigOrders(pool: pg.Pool, ms: number, rows = 2500, width = 200): Promise<number> {
  const deadline = Date.now() + ms;
  let n = 0;
  while (Date.now() < deadline) {
    await pool.query("insert into orders (status, customer_name) select 'bulk', repeat('x', $2) from generate_series(1, $1)", [rows, width]);
    n += 1;
  }
  return n;
}

/** Keeps `orders` subscribed (a filter that matches nothing), so the feed reads its pages; returns the start cursor. */
async function ordersWatcher(url: string, token?: string): Promise<string> {
  const abort = new AbortController();
  onTestFinished(() => abort.abort());
  const query = new URLSearchParams({ status: 'eq.never' });
  if (token) query.set('token', token);
  const res = await openSse(`${url}/sse/orders?${query}`, { signal: abort.signal });
  if (!res.stream) throw new Error(`orders watcher refused: ${res.status} ${JSON.stringify(res.body)}`);
  const events = sseEvents(res.stream);
  const first = await events.next();
  if (first.done || first.value.event !== 'cursor') throw new Error('no start cursor for the orders watcher');
  void (async () => {
    try {
      for await (const e of events) if (e.event === 'change') throw new Error(`orders watcher got a change: ${e.data.slice(0, 100)}`);
    } catch {
      // aborted at the end of the test
    }
  })();
  return first.value.id as string;
}

/** Inserts one post and then updates it, two transactions; returns the keys of the INSERT and of the UPDATE. */
async function endMarkers(pool: pg.Pool, ledger: Ledger, label = 'end'): Promise<{ insert: string; update: string; id: number }> {
  const client = await pool.connect();
  let id: number | undefined;
  try {
    [id] = await Tx.single(client, ledger, label);
    const tx = await Tx.begin(client, ledger, `${label}u`);
    await tx.update([id as number]);
    await tx.commit();
  } finally {
    client.release();
  }
  return { insert: `I:${label}.1`, update: `U:${label}u.1`, id: id as number };
}

async function server(url: string, overrides: Parameters<typeof startTestServer>[1] = {}): Promise<RowcastServer> {
  const s = await startTestServer(url, overrides);
  onTestFinished(() => s.close());
  return s;
}

/**
 * Runs `round` (a few seconds of writes) until `exercised()` holds, at most
 * `max` rounds: how many drops and resumes a loaded machine fits into a
 * round varies, and the checks after need the scenario to have happened.
 */
async function writeUntil(exercised: () => boolean, round: (i: number) => Promise<unknown>, max = 6): Promise<void> {
  for (let i = 0; i < max && (i === 0 || !exercised()); i++) await round(i);
}

const resumedFromFrames = (clients: readonly Resumer[]) => clients.reduce((n, c) => n + c.resumedFromFrame, 0);

function expectExact(client: Resumer, expected: readonly ChangeEvent[]): void {
  const label = client.label();
  expect(client.violations, `${label}: order of what one connection was told`).toEqual([]);
  expect(client.refusals, `${label}: refusals`).toEqual([]);
  expect(feedProblems(client.events, expected), `${label} against the log`).toEqual([]);
}

// ---------------------------------------------------------------------------

describe('cursor frames while the feed reads big transactions in pages', () => {
  test('first subscription to posts (and posts with ops/filters) mid-pass of multi-page orders reads, clients dropping every 30-250 ms: same feed as the log', { timeout: 60_000 }, async ({ database }) => {
    // One server per client: on each, the client is the table's only subscriber, so every
    // reconnect subscribes posts for the first time, often while a pass reads orders pages.
    const specs: Array<{ spec: SubscriptionSpec; Client: typeof WsResumer | typeof SseResumer; from: 'c0' | 'now' }> = [
      { spec: { table: 'posts' }, Client: WsResumer, from: 'c0' },
      { spec: { table: 'posts', ops: ['INSERT'] }, Client: SseResumer, from: 'c0' },
      { spec: { table: 'posts', ops: ['UPDATE', 'DELETE'], filter: { likes: 'gt.0' } }, Client: SseResumer, from: 'c0' },
      { spec: { table: 'posts', filter: { likes: 'gt.0' } }, Client: WsResumer, from: 'now' },
      { spec: { table: 'posts' }, Client: SseResumer, from: 'now' },
    ];
    const servers = await Promise.all(specs.map(() => server(database.url, FAST)));
    const starts = await Promise.all(servers.map((s) => ordersWatcher(s.url)));
    const c0 = starts[0] as string;
    const ledger = new Ledger();
    const clients = specs.map(({ spec, Client, from }, i) =>
      new Client({ ...spec, urls: [servers[i]!.url], ...(from === 'c0' ? { since: c0 } : {}), holdMs: [30, 250], seed: SEED + i, maxRunMs: 45_000 }).start(),
    );
    await waitFor(() => clients.every((c) => c.firstCursor !== undefined), { what: 'every client subscribed' });

    let bulks = 0;
    await writeUntil(
      () => clients.every((c) => c.cycles > 10 && c.events.length > 20) && resumedFromFrames(clients) > 5,
      async (i) => {
        const [, n] = await Promise.all([
          runWorkload(database.pool, ledger, { writers: 4, durationMs: 4000, seed: SEED + 100 * i, maxSleep: 0.1, prefix: `r${i}w` }),
          bigOrders(database.pool, 4000, 1500, 100),
        ]);
        bulks += n;
      },
    );
    const end = await endMarkers(database.pool, ledger);
    const all = await readLog(servers[0]!.url, { table: 'posts' }, c0);
    expect(deliveryProblems(all, ledger), 'the log itself').toEqual([]);
    expect(bulks).toBeGreaterThan(5);

    for (const [i, client] of clients.entries()) {
      const { spec, from } = specs[i]!;
      await client.waitForKey(spec.ops?.includes('INSERT') ? end.insert : end.update);
      await client.stop();
      let expected = await readLog(servers[0]!.url, spec, c0);
      if (from === 'now') expected = expected.filter((e) => compareCursors(decodeCursor(e.id), decodeCursor(client.firstCursor!)) > 0);
      expect(expected.length, client.label()).toBeGreaterThan(20);
      expectExact(client, expected);
    }
    for (const client of clients) expect(client.cycles, client.label()).toBeGreaterThan(10);
    // The cursors carried the position: filtered clients resumed from them.
    expect(resumedFromFrames(clients)).toBeGreaterThan(5);
  });
});

/** Writes notifications for u1 now and then, for others mostly, and hands rows over between owners, for `ms`. */
async function writeNotifications(pool: pg.Pool, ms: number, seed: number, label: string): Promise<number> {
  const rnd = prng(seed);
  const users = ['u1', 'u2', 'u2', 'u3', 'u3', 'u3', 'u4', 'u4', 'u4', 'u4'];
  const user = () => users[Math.floor(rnd() * users.length)] as string;
  const deadline = Date.now() + ms;
  const client = await pool.connect();
  let n = 0;
  try {
    while (Date.now() < deadline) {
      n += 1;
      const r = rnd();
      if (r < 0.5) {
        await client.query('insert into notifications (user_id, kind, title) values ($1, $2, $3)', [user(), 'k', `${label}-${n}`]);
      } else if (r < 0.7) {
        // Several owners in one transaction, one statement each.
        await client.query('begin');
        for (let k = 0; k < 3; k++) await client.query('insert into notifications (user_id, kind, title) values ($1, $2, $3)', [user(), 'k', `${label}-${n}.${k}`]);
        await client.query('commit');
      } else if (r < 0.8) {
        // Hand a row over: to u1, or away from u1.
        const to = rnd() < 0.5 ? 'u1' : 'u2';
        await client.query(
          'update notifications set user_id = $1, title = $2 where id = (select id from notifications where user_id <> $1 order by random() limit 1)',
          [to, `${label}-${n}-to-${to}`],
        );
      } else if (r < 0.9) {
        const whose = rnd() < 0.5 ? 'u1' : user();
        await client.query('update notifications set read = true, message = $1 where id = (select id from notifications where not read and user_id = $2 order by random() limit 1)', [`${label}-${n}`, whose]);
      } else {
        await client.query('delete from notifications where id = (select id from notifications order by random() limit 1)');
      }
    }
  } finally {
    client.release();
  }
  return n;
}

describe('owner rule: cursor frames for one owner while others are written', () => {
  test("u1's notifications over WebSocket and SSE on two instances, with ops and a filter, while other owners' rows, handovers and big orders are written: same feed as the log as u1", { timeout: 60_000 }, async ({ database }) => {
    const config = { ...FAST, jwt: { secret: SECRET } };
    const [a, b] = [await server(database.url, config), await server(database.url, config)];
    const admin = await hmacToken({ sub: 'root', role: 'admin' });
    const u1 = await hmacToken({ sub: 'u1', role: 'user' });
    const c0 = await ordersWatcher(a!.url, admin);
    await ordersWatcher(b!.url, admin);
    const specs: Array<{ spec: SubscriptionSpec; Client: typeof WsResumer | typeof SseResumer; urls: string[] }> = [
      { spec: { table: 'notifications', token: u1 }, Client: WsResumer, urls: [a!.url] },
      { spec: { table: 'notifications', token: u1 }, Client: SseResumer, urls: [b!.url] },
      { spec: { table: 'notifications', token: u1, ops: ['INSERT'] }, Client: SseResumer, urls: [a!.url, b!.url] },
      { spec: { table: 'notifications', token: u1, filter: { read: 'is.true' } }, Client: WsResumer, urls: [b!.url, a!.url] },
    ];
    const clients = specs.map(({ spec, Client, urls }, i) => new Client({ ...spec, urls, since: c0, holdMs: [30, 250], seed: SEED + 10 + i, maxRunMs: 45_000 }).start());
    await waitFor(() => clients.every((c) => c.firstCursor !== undefined), { what: 'every client subscribed' });

    let written = 0;
    await Promise.all([
      writeUntil(
        () => clients.every((c) => c.events.length > 5) && resumedFromFrames(clients) > 5,
        async (i) => {
          const [n] = await Promise.all([writeNotifications(database.pool, 4000, SEED + 100 * i, `n${i}`), bigOrders(database.pool, 4000, 1500, 100)]);
          written += n;
        },
      ),
      // A rule reload mid-run (same rule), and another table exposed: registry versions move.
      (async () => {
        await waitFor(() => clients.every((c) => c.cycles > 3), { timeoutMs: 10_000, what: 'a few reconnects' });
        await database.query("select rowcast.expose('public.notifications', owner_column => 'user_id')");
        await database.query('create table public.extra (id bigserial primary key, note text)');
        await database.query("select rowcast.expose('public.extra')");
      })(),
    ]);
    expect(written).toBeGreaterThan(50);
    // The end: a row u1 owns, read, inserted: every one of the subscriptions matches it.
    await database.query("insert into notifications (user_id, kind, title, read) values ('u1', 'k', 'the end', true)");
    const isEnd = (e: ChangeEvent) => e.row.title === 'the end';
    for (const [i, client] of clients.entries()) {
      await waitFor(() => client.events.some(isEnd), { timeoutMs: 25_000, what: `${client.label()} to get the end (${client.events.length} so far)` });
      await client.stop();
      const expected = await readLog(a!.url, specs[i]!.spec, c0);
      expect(expected.length, client.label()).toBeGreaterThan(5);
      expect(client.events.every((e) => e.row.user_id === 'u1'), `${client.label()} got only u1's rows`).toBe(true);
      expectExact(client, expected);
    }
    // u1 is a small part of the feed: the cursors carried the position.
    expect(resumedFromFrames(clients)).toBeGreaterThan(5);
  });
});

describe('resuming from far back', () => {
  test('a backlog of 15 pages replayed (paced by a small send buffer) while keep-alives tick every 10 ms and heartbeats every 200 ms, writers going on: no cursor frame jumps ahead of the replay, exact history', { timeout: 60_000 }, async ({ database }) => {
    // Heartbeats at 200 ms: a ping queued behind a paced replay must not get the peer dropped every time.
    const s = await server(database.url, { sseKeepAliveMs: 10, heartbeatMs: 200, maxBufferBytes: 256 * 1024 });
    const c0 = await ordersWatcher(s.url);
    const ledger = new Ledger();
    const writer = await database.pool.connect();
    try {
      await Tx.single(writer, ledger, 'pre-big', 2500);
      for (let i = 0; i < 12; i++) await Tx.single(writer, ledger, `pre-${i}`, 1000);
    } finally {
      writer.release();
    }
    const preCount = ledger.committedChanges();
    const base = { table: 'posts', urls: [s.url], since: c0, maxRunMs: 45_000 };
    const steadyWs = new WsResumer(base).start();
    const steadySse = new SseResumer(base).start();
    const dropping = [
      new WsResumer({ ...base, holdMs: [200, 900], seed: SEED + 20 }).start(),
      new SseResumer({ ...base, holdMs: [200, 900], seed: SEED + 21 }).start(),
      new WsResumer({ ...base, ops: ['UPDATE'], holdMs: [100, 400], seed: SEED + 22 }).start(),
    ];
    await Promise.all([
      runWorkload(database.pool, ledger, { writers: 3, durationMs: 3000, seed: SEED + 2, maxSleep: 0.1 }),
      bigOrders(database.pool, 3000, 1500, 100),
    ]);
    const end = await endMarkers(database.pool, ledger);
    const all = await readLog(s.url, { table: 'posts' }, c0);
    expect(deliveryProblems(all, ledger), 'the log itself').toEqual([]);
    for (const client of [steadyWs, steadySse, ...dropping]) await client.waitForKey(end.update, 40_000);
    // Live and quiet now: orders move the feed on, and the steady clients are told cursors past the end.
    const frames = [steadyWs.cursorFrames, steadySse.cursorFrames];
    await waitFor(
      async () => {
        await database.query("insert into orders (status) values ('elsewhere')");
        return steadyWs.cursorFrames > frames[0]! && steadySse.cursorFrames > frames[1]!;
      },
      { timeoutMs: 10_000, what: 'cursor frames after the end' },
    );
    for (const client of [steadyWs, steadySse, ...dropping]) {
      await client.stop();
      expectExact(client, client === dropping[2] ? await readLog(s.url, { table: 'posts', ops: ['UPDATE'] }, c0) : all);
    }
    expect(steadySse.cycles, 'the SSE client read the whole backlog on one connection').toBe(1);
    expect(preCount).toBeGreaterThan(14_000);
  });
});

describe('two instances', () => {
  test('every reconnect goes to the other instance, resuming from the change id or cursor frame the previous one told: same feed as the log', { timeout: 60_000 }, async ({ database }) => {
    const [a, b] = [await server(database.url, FAST), await server(database.url, FAST)];
    const c0 = await ordersWatcher(a!.url);
    await ordersWatcher(b!.url);
    const ledger = new Ledger();
    const specs: Array<{ spec: SubscriptionSpec; Client: typeof WsResumer | typeof SseResumer; urls: string[] }> = [
      { spec: { table: 'posts' }, Client: WsResumer, urls: [a!.url, b!.url] },
      { spec: { table: 'posts' }, Client: SseResumer, urls: [b!.url, a!.url] },
      { spec: { table: 'posts', ops: ['DELETE'] }, Client: WsResumer, urls: [a!.url, b!.url] },
      { spec: { table: 'posts', filter: { likes: 'gt.0' } }, Client: SseResumer, urls: [a!.url, b!.url] },
    ];
    const clients = specs.map(({ spec, Client, urls }, i) => new Client({ ...spec, urls, since: c0, holdMs: [30, 250], seed: SEED + 30 + i, maxRunMs: 45_000 }).start());
    await writeUntil(
      () => clients.every((c) => c.cycles > 8) && resumedFromFrames(clients) > 3,
      (i) =>
        Promise.all([
          runWorkload(database.pool, ledger, { writers: 4, durationMs: 4000, seed: SEED + 3 + 100 * i, maxSleep: 0.1, prefix: `r${i}w` }),
          bigOrders(database.pool, 4000, 1500, 100),
        ]),
    );
    const end = await endMarkers(database.pool, ledger);
    // The DELETE-only client needs a DELETE at the end.
    const client = await database.pool.connect();
    try {
      const tx = await Tx.begin(client, ledger, 'endd');
      await tx.delete([end.id]);
      await tx.commit();
    } finally {
      client.release();
    }
    const all = await readLog(a!.url, { table: 'posts' }, c0);
    expect(deliveryProblems(all, ledger), 'the log itself').toEqual([]);
    for (const [i, client] of clients.entries()) {
      const { spec } = specs[i]!;
      // Every write has committed, so the log is complete: wait for its last
      // change (the end row's DELETE comes after its UPDATE for the unfiltered ones).
      const expected = await readLog(b!.url, spec, c0);
      await client.waitForKey(changeKey(expected.at(-1)!));
      await client.stop();
      expectExact(client, expected);
      expect(client.cycles, client.label()).toBeGreaterThan(8);
    }
    expect(resumedFromFrames(clients)).toBeGreaterThan(3);
  });
});

describe('a server restart between', () => {
  test('clients whose last cursor is a frame (their table went quiet) resume on the restarted server: nothing written while it was down is missed or repeated', { timeout: 60_000 }, async ({ database }) => {
    const first = await server(database.url, FAST);
    const c0 = await ordersWatcher(first.url);
    const base = { table: 'posts', urls: [first.url], since: c0, maxRunMs: 45_000 };
    const clients = [
      new WsResumer(base).start(),
      new SseResumer(base).start(),
      new WsResumer({ ...base, filter: { likes: 'gt.0' } }).start(),
      new SseResumer({ ...base, ops: ['INSERT'] }).start(),
    ];
    const ledger = new Ledger();
    const writer = await database.pool.connect();
    try {
      const ids1 = [...(await Tx.single(writer, ledger, 'a', 3)), ...(await Tx.single(writer, ledger, 'b', 2))];
      const tx = await Tx.begin(writer, ledger, 'c');
      await tx.update(ids1.slice(0, 2));
      await tx.commit();
      await waitFor(() => clients.every((c) => c.events.some((e) => e.row.title === 'b.2' || e.row.body === 'c.2')), { what: 'the first writes on every client' });
      // Quiet for posts: only orders, until every client holds a cursor frame past its last change.
      await waitFor(
        async () => {
          await database.query("insert into orders (status) values ('elsewhere')");
          return clients.every((c) => c.cursor !== undefined && c.cursor !== c.events.at(-1)?.id);
        },
        { timeoutMs: 15_000, what: 'cursor frames past the last change' },
      );
      await first.close();
      // While it is down: inserts, an update, a delete.
      const ids2 = await Tx.single(writer, ledger, 'down', 2);
      const tx2 = await Tx.begin(writer, ledger, 'down-u');
      await tx2.update([ids2[0] as number, ids1[2] as number]);
      await tx2.delete([ids1[0] as number]);
      await tx2.commit();
      const second = await server(database.url, { ...FAST, port: first.port });
      await ordersWatcher(second.url);
      await Tx.single(writer, ledger, 'back', 1);
    } finally {
      writer.release();
    }
    const end = await endMarkers(database.pool, ledger);
    const all = await readLog(first.url, { table: 'posts' }, c0);
    expect(deliveryProblems(all, ledger), 'the log itself').toEqual([]);
    for (const client of clients) {
      await client.waitForKey(client.label().includes('INSERT') ? end.insert : end.update);
      await client.stop();
      expect(client.resumedFromFrame, `${client.label()} resumed from a cursor frame`).toBeGreaterThan(0);
    }
    expectExact(clients[0]!, all);
    expectExact(clients[1]!, all);
    expectExact(clients[2]!, await readLog(first.url, { table: 'posts', filter: { likes: 'gt.0' } }, c0));
    expectExact(clients[3]!, await readLog(first.url, { table: 'posts', ops: ['INSERT'] }, c0));
  });
});

/** Changes of the log at or before the cursor a client holds that it never received: resuming there skips them. */
function skippedBehind(client: Resumer, log: readonly ChangeEvent[]): string[] {
  if (client.cursor === undefined) return [];
  const held = decodeCursor(client.cursor);
  const got = new Set(ids(client.events));
  return log.filter((e) => compareCursors(decodeCursor(e.id), held) <= 0 && !got.has(e.id)).map((e) => `${e.id} ${changeKey(e)}`);
}

describe('the database fails while a pass reads pages', () => {
  test('posts first subscribed mid-pass; the read fails once the pass is past the post: the subscriber still gets it, and no cursor it is told is past it', { timeout: 60_000 }, async ({ database }) => {
    const s = await server(database.url, { sseKeepAliveMs: 20 });
    // Keeps orders read, and tells the test how far the pass got: it matches only the two marker rows.
    const marks = await TestWsClient.connect(s.url);
    onTestFinished(() => marks.close());
    const c0 = await marks.subscribe({ id: 'm', table: 'orders', filter: { status: 'in.(mark-1,mark-3)' } });
    const markSeen = (status: string) => marks.changes('m').some((m) => m.row.status === status);

    // One transaction, in statement order: a mark, 12 pages of orders, the post, a mark, 30 more pages.
    const bulk = (n: number) => `insert into orders (status, customer_name) select 'bulk', repeat('x', 2000) from generate_series(1, ${n})`;
    const writer = await database.pool.connect();
    try {
      await writer.query('begin');
      await writer.query("insert into orders (status) values ('mark-1')");
      await writer.query(bulk(12_000));
      await writer.query("insert into posts (title) values ('in the middle')");
      await writer.query("insert into orders (status) values ('mark-3')");
      await writer.query(bulk(30_000));
      await writer.query('commit');
    } finally {
      writer.release();
    }

    // The pass published its first page: posts is subscribed for the first time (from c0), over WebSocket and SSE.
    await waitFor(() => markSeen('mark-1'), { timeoutMs: 20_000, what: 'the first page' });
    const ws = new WsResumer({ table: 'posts', urls: [s.url], since: c0 }).start();
    const sse = new SseResumer({ table: 'posts', urls: [s.url], since: c0 }).start();
    await waitFor(() => ws.firstCursor && sse.firstCursor, { what: 'the posts subscriptions' });
    expect(markSeen('mark-3'), 'premise: subscribed before the pass read past the post').toBe(false);

    // The pass is past the post: the database ends the connection of the page read in flight.
    await waitFor(() => markSeen('mark-3'), { timeoutMs: 20_000, what: 'the pass past the post' });
    await waitFor(
      async () => {
        const { rows } = await database.query<{ ok: boolean }>(
          `select pg_terminate_backend(pid) as ok from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid() and state = 'active'
              and query like '%from rowcast.transactions t%' and query like '%= any (%'`,
        );
        return rows.some((r) => r.ok);
      },
      { timeoutMs: 10_000, intervalMs: 2, what: "a page read of the feed's pass to terminate" },
    );

    const log = await readLog(s.url, { table: 'posts' }, c0);
    expect(log.map((e) => e.row.title)).toEqual(['in the middle']);
    // The feed recovers and publishes through the transaction: SSE holds a cursor at or past the post
    // (the post's own id, or a cursor frame).
    const post = decodeCursor(log[0]!.id);
    await waitFor(() => sse.cursor !== undefined && compareCursors(decodeCursor(sse.cursor), post) >= 0, {
      timeoutMs: 20_000,
      what: 'the SSE client to hold a cursor at or past the post',
    });
    expect.soft(skippedBehind(sse, log), `SSE: log changes at or before the cursor frame it holds (${sse.cursor}), never delivered`).toEqual([]);

    await database.query("insert into posts (title) values ('after')");
    await waitFor(() => ws.events.some((e) => e.row.title === 'after') && sse.events.some((e) => e.row.title === 'after'), {
      timeoutMs: 20_000,
      what: "the post 'after' on both",
    });
    await ws.stop();
    await sse.stop();
    expect([ws.cycles, sse.cycles], 'each stayed on one connection').toEqual([1, 1]);
    for (const client of [ws, sse]) {
      expect.soft(client.events.map((e) => e.row.title), `${client.label()} on one uninterrupted connection`).toEqual(['in the middle', 'after']);
    }
  });
});
