/**
 * CONTRACT §3 under faults: PostgreSQL down (what the feeds answer) and restarting under a running server,
 * the server killed with SIGKILL and started again, two instances on one
 * database, and a commit-order corner case that needs a quiet PostgreSQL.
 * Tests that stop PostgreSQL, or need no other transaction to finish while
 * they run, use a PostgreSQL of this file's own; the others use the run's.
 */
import type pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import WebSocket from 'ws';
import { createClient, type WebSocketConstructor } from '../src/client/index.js';
import { bareEvent, deliveryProblems, type Received } from './support/delivery-check.js';
import { describe, expect, startTestServer, test } from './support/fixtures.js';
import { PrivatePostgres } from './support/private-postgres.js';
import { ChangesPoller, SseResumer, WsResumer } from './support/resuming-clients.js';
import { startServerProcess } from './support/server-process.js';
import { getJson } from './support/tokens.js';
import { waitFor } from './support/wait.js';
import { runWorkload } from './support/workload.js';
import { changeKey, Ledger, markEnd, Tx, writeOrders } from './support/writers.js';
import { TestWsClient } from './support/ws-client.js';

const SEED = Number(process.env.ROWCAST_TEST_SEED ?? 20_261_123);
const hasKey = (events: readonly Received[], key: string) => events.some((e) => changeKey(e) === key);
const ids = (events: readonly Received[]) => events.map((e) => e.id);

async function connections(pool: pg.Pool, n: number): Promise<pg.PoolClient[]> {
  return Promise.all(Array.from({ length: n }, () => pool.connect()));
}

/** A `ws` WebSocket counting the `unavailable` error frames it receives. */
function countingRefusals(wire: { refusals: number }): WebSocketConstructor {
  class Counting extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.on('message', (data) => {
        if (String(data).includes('"code":"unavailable"')) wire.refusals += 1;
      });
    }
  }
  return Counting as unknown as WebSocketConstructor;
}

async function healthStatus(url: string): Promise<number> {
  const res = await fetch(`${url}/health`).catch(() => null);
  await res?.body?.cancel();
  return res?.status ?? 0;
}

/** Waits for the end marker on each client, stops it, and checks it got exactly the committed history. */
async function expectExactHistory(clients: ReadonlyArray<WsResumer | SseResumer | ChangesPoller>, ledger: Ledger, end: string): Promise<void> {
  for (const client of clients) {
    await client.waitForKey(end, 20_000);
    await client.stop();
    expect(deliveryProblems(client.events, ledger), client.constructor.name).toEqual([]);
    expect(client.violations, `${client.constructor.name}: order of what one connection was told`).toEqual([]);
  }
  const [first, ...rest] = clients;
  for (const client of rest) expect(client.events.map(bareEvent)).toEqual(first?.events.map(bareEvent));
}

describe('in a PostgreSQL of its own', () => {
  let own: PrivatePostgres;
  beforeAll(async () => {
    own = await PrivatePostgres.start();
  });
  afterAll(async () => {
    await own?.destroy();
  });

  test('a sequencer pass while a writer with a newer transaction id than any finished one is open does not lose that writer', async () => {
    const { database, drop } = await own.createDatabase();
    // A server applies the schema and gives us a cursor, then goes away: nothing else runs here.
    const first = await startTestServer(database.url);
    const probe = await TestWsClient.connect(first.url);
    const c0 = await probe.subscribe({ id: 'p', table: 'posts' });
    probe.close();
    await first.close();
    const [u, t, s] = await connections(database.pool, 3);
    let second: Awaited<ReturnType<typeof startTestServer>> | null = null;
    try {
      const ledger = new Ledger();
      // U takes its transaction id first (as if it had written elsewhere), T then writes first.
      const U = await Tx.begin(u!, ledger, 'U');
      await U.takeXid();
      const T = await Tx.begin(t!, ledger, 'T');
      await T.insert(1);
      await U.insert(1);
      await U.commit();
      // What any instance's wake-up does at this moment: one pass of the sequencer.
      await s!.query('select rowcast.sequence()');
      await T.commit();
      const end = await markEnd(database.pool, ledger);

      second = await startTestServer(database.url);
      const ws = new WsResumer({ urls: [second.url], table: 'posts', since: c0 }).start();
      const poller = new ChangesPoller({ urls: [second.url], table: 'posts', since: c0 }).start();
      await expectExactHistory([ws, poller], ledger, end);
    } finally {
      for (const c of [u, t, s]) c?.release();
      await second?.close();
      await drop();
    }
  });

  test('PostgreSQL down: /changes, SSE with since and a WebSocket subscribe with since answer unavailable (503), as /health does; back up, they serve again', { timeout: 60_000 }, async () => {
    const { database, drop } = await own.createDatabase();
    const server = await startTestServer(database.url);
    const wire = { refusals: 0 };
    const sdk = createClient<Record<string, Record<string, unknown>>>({ url: server.url, WebSocket: countingRefusals(wire) });
    try {
      const { json: start } = await getJson(`${server.url}/changes/posts?limit=1`);
      await database.query("insert into posts (title) values ('before the outage')");
      const ws = await TestWsClient.connect(server.url);
      const titles: string[] = [];
      await waitFor(() => sdk.state.kind === 'open', { what: 'the SDK connected' });
      await own.stop();
      await waitFor(async () => (await healthStatus(server.url)) === 503, { timeoutMs: 15_000, what: '/health to answer 503' });
      for (const path of ['/changes/posts', `/changes/posts?since=${start.cursor}`, `/sse/posts?since=${start.cursor}`]) {
        const answer = await getJson(`${server.url}${path}`);
        expect([path, answer.status, answer.json?.error?.code]).toEqual([path, 503, 'unavailable']);
      }
      ws.send({ type: 'subscribe', id: 'late', table: 'posts', since: start.cursor });
      expect(await ws.waitFor((m) => m.type === 'error' && m.ref === 'late')).toMatchObject({ code: 'unavailable' });
      // The SDK asks again later for a subscription refused as unavailable, instead of giving it up.
      const errors: string[] = [];
      sdk.on('error', (e) => errors.push(e.code));
      sdk.subscribe('posts', { since: start.cursor }, (c) => titles.push(String(c.row.title)));
      await waitFor(() => wire.refusals >= 1, { what: 'the SDK refused once while PostgreSQL is down' });
      await own.startAgain();
      await waitFor(async () => (await healthStatus(server.url)) === 200, { timeoutMs: 30_000, intervalMs: 100, what: '/health to answer 200 again' });
      const { json: page } = await getJson(`${server.url}/changes/posts?since=${start.cursor}`);
      expect(page.changes.map((c: { row: { title: string } }) => c.row.title)).toEqual(['before the outage']);
      await waitFor(() => titles.length > 0, { timeoutMs: 15_000, what: 'the SDK subscription served once PostgreSQL is back' });
      expect({ titles, errors }).toEqual({ titles: ['before the outage'], errors: [] });
      ws.close();
    } finally {
      sdk.close();
      await server.close();
      if (!own.up) await own.startAgain();
      await drop();
    }
  });

  test('PostgreSQL restarts twice under a running server process: /health goes 503 then 200, the process survives, connected subscribers get every change from before and after', { timeout: 60_000 }, async () => {
    const { database, drop } = await own.createDatabase();
    const server = await startServerProcess({ DATABASE_URL: database.url });
    // The server must live through it: its exit fails the test at once, with what it printed.
    const died = server.exited.then((e) => {
      throw new Error(`rowcast exited (${JSON.stringify(e)}) while PostgreSQL restarted:\n${server.output().slice(-3000)}`);
    });
    died.catch(() => {});
    const alive = <T>(step: Promise<T>) => Promise.race([step, died]);
    try {
      const ledger = new Ledger();
      const reference = await TestWsClient.connect(server.url);
      const c0 = await reference.subscribe({ id: 'ref', table: 'posts' });
      reference.close();
      const ws = new WsResumer({ urls: [server.url], table: 'posts', since: c0 }).start();
      const sse = new SseResumer({ urls: [server.url], table: 'posts', since: c0 }).start();
      // Polls right through the outages, so the server is busy with queries when PostgreSQL goes away.
      const poller = new ChangesPoller({ urls: [server.url], table: 'posts', since: c0, maxRunMs: 50_000 }, [1, 5, 50]).start();
      const write = async (label: string, n: number) => {
        const [client] = await connections(database.pool, 1);
        try {
          for (let i = 0; i < n; i++) await Tx.single(client!, ledger, `${label}-${i}`, 1 + (i % 3));
        } finally {
          client?.release();
        }
      };
      for (const round of [1, 2]) {
        await write(`seen${round}`, 20);
        const last = `I:seen${round}-19.1`;
        await alive(waitFor(() => hasKey(ws.events, last) && hasKey(sse.events, last), { what: `batch ${round}` }));
        // Committed, maybe not yet read by the server, when PostgreSQL goes down.
        await write(`unseen${round}`, 20);
        expect(await healthStatus(server.url)).toBe(200);

        await own.stop();
        await alive(waitFor(async () => (await healthStatus(server.url)) === 503, { timeoutMs: 15_000, what: '/health to answer 503' }));
        const down = await fetch(`${server.url}/health`);
        expect(await down.json()).toMatchObject({ status: 'unhealthy' });

        await own.startAgain();
        await alive(waitFor(async () => (await healthStatus(server.url)) === 200, { timeoutMs: 30_000, intervalMs: 100, what: '/health to answer 200 again' }));
      }
      await write('after', 20);
      const end = await markEnd(database.pool, ledger);
      await alive(expectExactHistory([ws, sse, poller], ledger, end));
      // They stayed connected through it all: one connection each, none refused.
      expect([ws.cycles, sse.cycles, ws.failures, sse.failures, ws.refusals, sse.refusals]).toEqual([1, 1, [], [], [], []]);
      // While the database was away /changes said so (503 unavailable), never with a page.
      for (const refusal of poller.refusals) expect(refusal).toMatch(/^HTTP 503 \{"error":\{"code":"unavailable","message":/);
    } finally {
      server.kill('SIGTERM');
      await server.exited;
      if (!own.up) await own.startAgain();
      await drop();
    }
  });
});

test('the server killed with SIGKILL mid-stream and started again: clients resume with their cursor and get every change exactly once', { timeout: 60_000 }, async ({ database }) => {
  const ledger = new Ledger();
  let server = await startServerProcess({ DATABASE_URL: database.url });
  const port = server.port;
  try {
    const reference = await TestWsClient.connect(server.url);
    const c0 = await reference.subscribe({ id: 'ref', table: 'posts' });
    reference.close();
    const base = { urls: [server.url], table: 'posts', since: c0, maxRunMs: 50_000 };
    const clients = [new WsResumer(base).start(), new SseResumer(base).start(), new ChangesPoller(base).start()];

    let stop = false;
    const workload = runWorkload(database.pool, ledger, { writers: 4, durationMs: 20_000, seed: SEED + 5, maxSleep: 0.1, stop: () => stop });
    const atLeast = (n: number, what: string) => waitFor(() => ledger.committed().length >= n, { timeoutMs: 15_000, what });
    await atLeast(60, 'writes before the kill');
    await waitFor(() => clients.every((c) => c.events.length > 0), { what: 'every client to have received something' });
    server.kill('SIGKILL');
    expect(await server.exited).toMatchObject({ signal: 'SIGKILL' });
    // Writers keep committing while no server runs.
    await atLeast(ledger.committed().length + 60, 'writes while the server is down');
    server = await startServerProcess({ DATABASE_URL: database.url }, { port });
    await atLeast(ledger.committed().length + 60, 'writes after the restart');
    stop = true;
    await workload;
    const end = await markEnd(database.pool, ledger);
    await expectExactHistory(clients, ledger, end);
    for (const client of clients) expect(client.refusals, client.constructor.name).toEqual([]);
    // The streaming clients lost their connection to the kill and came back.
    expect(clients[0]!.cycles).toBeGreaterThan(1);
    expect(clients[1]!.cycles).toBeGreaterThan(1);
  } finally {
    server.kill('SIGTERM');
    await server.exited;
  }
});

test('two instances on one database: a client moving between them with its cursor misses nothing and sees nothing twice; both deliver everything', async ({ database }) => {
  const ledger = new Ledger();
  // Short keep-alives and heartbeats, and orders written beside: the movers also resume on one instance from cursors the other told them.
  const quick = { sseKeepAliveMs: 20, heartbeatMs: 100 };
  const [a, b] = await Promise.all([startTestServer(database.url, quick), startTestServer(database.url, quick)]);
  try {
    const onA = await TestWsClient.connect(a.url);
    const c0 = await onA.subscribe({ id: 'ref', table: 'posts' });
    const onB = await TestWsClient.connect(b.url);
    await onB.subscribe({ id: 'ref', table: 'posts', since: c0 });
    const base = { urls: [a.url, b.url], table: 'posts', since: c0, maxRunMs: 40_000 };
    const movers = [
      new WsResumer({ ...base, holdMs: [100, 350], seed: SEED + 7 }).start(),
      new SseResumer({ ...base, holdMs: [100, 350], seed: SEED + 8 }).start(),
      new ChangesPoller(base, [5, 40, 1, 300]).start(),
    ];
    await Promise.all([
      runWorkload(database.pool, ledger, { writers: 6, durationMs: 4000, seed: SEED + 9, maxSleep: 0.1 }),
      writeOrders(database.pool, 4000),
    ]);
    const end = await markEnd(database.pool, ledger);
    for (const ref of [onA, onB]) await waitFor(() => hasKey(ref.changes('ref'), end), { timeoutMs: 20_000, what: 'the end marker on each instance' });
    const expected = onA.changes('ref');
    expect(deliveryProblems(expected, ledger)).toEqual([]);
    expect(ids(onB.changes('ref'))).toEqual(ids(expected));
    await expectExactHistory(movers, ledger, end);
    for (const mover of movers) {
      expect(mover.refusals, mover.constructor.name).toEqual([]);
      expect(ids(mover.events)).toEqual(ids(expected));
    }
    expect(movers[0]!.cycles).toBeGreaterThan(5);
    expect(movers[1]!.cycles).toBeGreaterThan(5);
    expect(movers[0]!.cursorMoves).toBeGreaterThan(0);
    expect(movers[1]!.cursorMoves).toBeGreaterThan(0);
    onA.close();
    onB.close();
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
