/**
 * CONTRACT §3, the delivery guarantee, over real sockets and a real
 * PostgreSQL: commit order (not write order), exactly once across resumes,
 * the backlog-to-live switch, retention, and large rows in backlogs. Faults
 * (PostgreSQL restart, kill -9, several instances) are in faults.test.ts.
 */
import type pg from 'pg';
import { onTestFinished } from 'vitest';
import { bareEvent, deliveryProblems, transactionOrder, type Received } from './support/delivery-check.js';
import { describe, expect, startTestServer, test } from './support/fixtures.js';
import { NaiveReader } from './support/naive-reader.js';
import { resumeEverywhere } from './support/resume-checks.js';
import { ChangesPoller, SseResumer, WsResumer } from './support/resuming-clients.js';
import { TestSseClient } from './support/sse-client.js';
import { waitFor } from './support/wait.js';
import { runWorkload } from './support/workload.js';
import { changeKey, Ledger, markEnd, Tx, writeOrders } from './support/writers.js';
import { TestWsClient } from './support/ws-client.js';

const SEED = Number(process.env.ROWCAST_TEST_SEED ?? 20_261_123);
const ids = (events: readonly Received[]) => events.map((e) => e.id);
const hasKey = (events: readonly Received[], key: string) => events.some((e) => changeKey(e) === key);

async function connections(pool: pg.Pool, n: number): Promise<pg.PoolClient[]> {
  return Promise.all(Array.from({ length: n }, () => pool.connect()));
}

describe('commit order is not write order', () => {
  test('a transaction that wrote first and committed last is delivered last, whole, exactly once, on every transport', async ({ rowcast, database }) => {
    const ledger = new Ledger();
    const live = await TestWsClient.connect(rowcast.url);
    const c0 = await live.subscribe({ id: 'live', table: 'posts' });
    const liveSse = new TestSseClient(`${rowcast.url}/sse/posts`);
    await liveSse.opened();
    const naive = new NaiveReader(database.pool);
    await naive.poll();
    naive.start();

    const [a, b, c, d, e, f, g] = await connections(database.pool, 7);
    try {
      // A row for D and E to fight over.
      const [contended] = await Tx.single(c!, ledger, 'pre');
      await waitFor(() => hasKey(naive.received, 'I:pre.1'), { what: 'the naive reader to see the first row' });
      // A writes first (lowest seq) and commits last.
      const A = await Tx.begin(a!, ledger, 'A');
      await A.insert(1);
      await A.insert(2);
      const aDone = A.sleep(1.2).then(() => A.commit());
      const B = await Tx.begin(b!, ledger, 'B');
      await B.insert(1);
      const bDone = B.sleep(0.5).then(() => B.insert(1)).then(() => B.commit());
      // G opens before anything commits and writes only after sleeping.
      const G = await Tx.begin(g!, ledger, 'G');
      const gDone = G.sleep(0.7).then(() => G.insert(2)).then(() => G.commit());
      // C: one statement, three rows, committed at once.
      await Tx.single(c!, ledger, 'C', 3);
      // D holds a row lock that E waits for: E can only commit after D.
      const D = await Tx.begin(d!, ledger, 'D');
      await D.update([contended!]);
      const E = await Tx.begin(e!, ledger, 'E');
      const eDone = E.update([contended!]).then(() => E.insert(1)).then(() => E.commit());
      const dDone = D.sleep(0.3).then(() => D.insert(1)).then(() => D.commit());
      // F writes and sleeps like the others, then rolls back.
      const F = await Tx.begin(f!, ledger, 'F');
      await F.insert(2);
      const fDone = F.sleep(0.2).then(() => F.rollback());
      await Promise.all([aDone, bDone, dDone, eDone, fDone, gDone]);
    } finally {
      for (const client of [a, b, c, d, e, f, g]) client?.release();
    }
    const end = await markEnd(database.pool, ledger);
    await waitFor(() => hasKey(live.changes('live'), end), { timeoutMs: 15_000, what: 'the end marker over WebSocket' });
    await waitFor(() => hasKey(liveSse.events, end), { timeoutMs: 15_000, what: 'the end marker over SSE' });
    await naive.stop();

    // The workload has teeth: a reader that trusts seq order loses A.
    expect(naive.polls).toBeGreaterThan(10);
    expect(deliveryProblems(naive.received, ledger).join('\n')).toMatch(/committed changes never delivered \(\d+\): I:A\.1 of A, I:A\.2 of A, I:A\.3 of A/);

    const reference = live.changes('live');
    expect(deliveryProblems(reference, ledger)).toEqual([]);
    const order = transactionOrder(reference, ledger);
    expect(order.slice(0, 2)).toEqual(['pre', 'C']);
    expect(order.slice(-2)).toEqual(['A', 'end']);
    expect(order.indexOf('E')).toBeGreaterThan(order.indexOf('D'));
    expect(order).not.toContain('F');
    expect(liveSse.events.map(bareEvent)).toEqual(reference.map(bareEvent));

    // The same history, read back from the cursor taken before it.
    const ws = new WsResumer({ urls: [rowcast.url], table: 'posts', since: c0 }).start();
    const sse = new SseResumer({ urls: [rowcast.url], table: 'posts', since: c0 }).start();
    const poller = new ChangesPoller({ urls: [rowcast.url], table: 'posts', since: c0 }, [2, 1, 3]).start();
    for (const client of [ws, sse, poller]) {
      await client.waitForKey(end, 15_000);
      await client.stop();
      expect(client.refusals).toEqual([]);
      expect(client.violations).toEqual([]);
      expect(client.events.map(bareEvent)).toEqual(reference.map(bareEvent));
    }
    live.close();
    liveSse.close();
  });
});

describe('exactly once across resumes', () => {
  test('8 writers for 4 s; WebSocket and SSE clients that drop and resume every few hundred ms and a /changes poller get what an uninterrupted subscriber gets: the committed history', async ({ database }) => {
    // Keep-alives and heartbeats every few tens of ms, and orders written beside:
    // the resuming clients are also told cursors past their last change
    // (SSE `event: cursor`, WebSocket `cursor`) and resume from those.
    const rowcast = await startTestServer(database.url, { sseKeepAliveMs: 20, heartbeatMs: 100 });
    onTestFinished(() => rowcast.close());
    const ledger = new Ledger();
    const reference = await TestWsClient.connect(rowcast.url);
    const c0 = await reference.subscribe({ id: 'ref', table: 'posts' });
    const base = { urls: [rowcast.url], table: 'posts', since: c0, maxRunMs: 40_000 };
    const ws = new WsResumer({ ...base, holdMs: [150, 450], seed: SEED }).start();
    const sse = new SseResumer({ ...base, holdMs: [150, 450], seed: SEED + 1 }).start();
    const poller = new ChangesPoller(base, [1, 7, 50, 13, 500]).start();

    await Promise.all([
      runWorkload(database.pool, ledger, { writers: 8, durationMs: 4000, seed: SEED, maxSleep: 0.15 }),
      writeOrders(database.pool, 4000),
    ]);
    const end = await markEnd(database.pool, ledger);
    await waitFor(() => hasKey(reference.changes('ref'), end), { timeoutMs: 20_000, what: 'the end marker (uninterrupted)' });
    const expected = reference.changes('ref');
    expect(deliveryProblems(expected, ledger), `seed ${SEED}`).toEqual([]);
    expect(ledger.committed().length).toBeGreaterThan(200);
    expect(ledger.txs.some((t) => t.outcome === 'rolled back')).toBe(true);

    for (const client of [ws, sse, poller]) {
      await client.waitForKey(end, 20_000);
      await client.stop();
      expect(client.refusals).toEqual([]);
      expect(client.violations).toEqual([]);
      expect(ids(client.events)).toEqual(ids(expected));
      expect(client.events.map(bareEvent)).toEqual(expected.map(bareEvent));
    }
    // They really did resume, many times, mid-stream.
    expect(ws.cycles).toBeGreaterThan(5);
    expect(sse.cycles).toBeGreaterThan(5);
    expect(ws.cursorMoves).toBeGreaterThan(0);
    expect(sse.cursorMoves).toBeGreaterThan(0);
    expect(poller.cycles).toBeGreaterThan(50);
    reference.close();
  });
});

describe('from backlog to live', () => {
  test('subscribing from an old cursor while writers keep committing: no gap, no duplicate at the switch', async ({ rowcast, database }) => {
    const ledger = new Ledger();
    const reference = await TestWsClient.connect(rowcast.url);
    const c0 = await reference.subscribe({ id: 'ref', table: 'posts' });
    // A backlog of several pages (the server reads 1000 at a time), one transaction spanning a page boundary.
    const [client] = await connections(database.pool, 1);
    try {
      await Tx.single(client!, ledger, 'pre-big', 1500);
      for (let i = 0; i < 150; i++) await Tx.single(client!, ledger, `pre-${i}`, 1 + (i % 3));
    } finally {
      client?.release();
    }

    let stop = false;
    const workload = runWorkload(database.pool, ledger, { writers: 4, durationMs: 8000, seed: SEED + 3, maxSleep: 0.1, stop: () => stop });
    const late: Array<WsResumer | SseResumer> = [];
    // Join at staggered points of the write stream, each from the old cursor.
    for (let k = 1; k <= 4; k++) {
      const committed = ledger.committed().length;
      await waitFor(() => ledger.committed().length >= committed + 25, { timeoutMs: 10_000, what: 'more commits' });
      const Client = k % 2 === 0 ? SseResumer : WsResumer;
      late.push(new Client({ urls: [rowcast.url], table: 'posts', since: c0, maxRunMs: 40_000 }).start());
    }
    stop = true;
    await workload;
    const end = await markEnd(database.pool, ledger);
    await waitFor(() => hasKey(reference.changes('ref'), end), { timeoutMs: 20_000, what: 'the end marker (reference)' });
    const expected = reference.changes('ref');
    expect(deliveryProblems(expected, ledger)).toEqual([]);
    for (const client of late) {
      await client.waitForKey(end, 20_000);
      await client.stop();
      expect(client.refusals).toEqual([]);
      expect(client.violations).toEqual([]);
      expect(client.cycles).toBe(1);
      expect(ids(client.events)).toEqual(ids(expected));
    }
    reference.close();
  });
});

describe('large rows', () => {
  test('rows of 1 MB and more inside a resumed backlog arrive whole on WebSocket, SSE and /changes', { timeout: 60_000 }, async ({ rowcast, database }) => {
    const ledger = new Ledger();
    const probe = await TestWsClient.connect(rowcast.url);
    const c0 = await probe.subscribe({ id: 'p', table: 'posts' });
    probe.close();
    const MB = 1024 * 1024;
    const sizes = new Map<string, number>();
    // Unique ends and a multi-byte character, so a cut or a mix-up shows.
    const body = (tag: string) => `${tag}<${'x'.repeat(sizes.get(tag) ?? 10)}✓>${tag}`;
    const [client] = await connections(database.pool, 1);
    try {
      const tx = await Tx.begin(client!, ledger, 'mixed');
      for (const [n, size] of [[1, 10], [2, 1.5 * MB], [3, 10], [4, 1.1 * MB], [5, 2.5 * MB]] as const) sizes.set(`mixed.${n}`, size);
      await tx.insert(1, body);
      await tx.insert(1, body);
      await tx.insert(3, body);
      await tx.commit();
      for (let i = 0; i < 6; i++) {
        sizes.set(`big-${i}.1`, 1.2 * MB);
        await Tx.single(client!, ledger, `big-${i}`, 1, body);
        await Tx.single(client!, ledger, `small-${i}`, 2, body);
      }
    } finally {
      client?.release();
    }
    const end = await markEnd(database.pool, ledger);
    const clients = [
      new WsResumer({ urls: [rowcast.url], table: 'posts', since: c0 }).start(),
      new SseResumer({ urls: [rowcast.url], table: 'posts', since: c0 }).start(),
      new ChangesPoller({ urls: [rowcast.url], table: 'posts', since: c0 }, [2, 1, 5]).start(),
    ];
    for (const c of clients) {
      await c.waitForKey(end, 30_000);
      await c.stop();
      expect(c.refusals).toEqual([]);
      expect(c.violations).toEqual([]);
      // Reading as fast as it can, a client is no slow consumer: the ~12 MB backlog (over the 8 MiB buffer limit) comes on one connection.
      expect(c.drops).toEqual([]);
      expect(deliveryProblems(c.events, ledger)).toEqual([]);
      const wrong = c.events.filter((e) => e.row.title !== 'end.1' && e.row.body !== body(String(e.row.title))).map((e) => `${String(e.row.title)}: ${String(e.row.body).length} chars`);
      expect(wrong).toEqual([]);
    }
  });
});

describe('retention', () => {
  test('a pruned cursor is refused (WebSocket cursor_expired, SSE and /changes 410 with the JSON error), kept cursors resume exactly, garbage cursors are refused', async ({ database }) => {
    const server = await startTestServer(database.url, { retentionMs: 1000 });
    try {
      const live = await TestWsClient.connect(server.url);
      const c0 = await live.subscribe({ id: 'live', table: 'posts' });
      const ledger = new Ledger();
      const [client] = await connections(database.pool, 1);
      try {
        for (const label of ['t1', 't2', 't3']) await Tx.single(client!, ledger, label, 2);
      } finally {
        client?.release();
      }
      const [t1a, , t2a, t2b, t3a, t3b] = (await live.waitForChanges(6, 'live')).map((c) => c.id) as string[];
      const everywhere = (outcome: object) => ({ ws: outcome, sseQuery: outcome, sseLastEventId: outcome, changes: outcome });
      const expired = { ...everywhere({ error: 'cursor_expired', status: 410 }), ws: { error: 'cursor_expired' } };

      // Retention drops the oldest transaction, t1, and nothing else (what the server's pruning runs).
      await database.query("select rowcast.prune('0 seconds', 1)");
      expect(await resumeEverywhere(server.url, c0, 1)).toEqual(expired);
      expect(await resumeEverywhere(server.url, t1a!, 1)).toEqual(expired);
      // A cursor inside what is kept resumes right after itself, even mid-transaction.
      expect(await resumeEverywhere(server.url, t2a!, 3)).toEqual(everywhere({ ids: [t2b, t3a, t3b] }));
      // Without a cursor, /changes starts at the oldest change kept.
      const oldest = (await (await fetch(`${server.url}/changes/posts`)).json()) as { changes: Array<{ id: string }> };
      expect(oldest.changes.map((c) => c.id)).toEqual([t2a, t2b, t3a, t3b]);

      // A caught-up client's cursor outlives the history before it.
      const page = (await (await fetch(`${server.url}/changes/posts?since=${t3a}`)).json()) as { changes: Array<{ id: string }>; cursor: string };
      expect(page.changes.map((c) => c.id)).toEqual([t3b]);
      await database.query("select rowcast.prune('0 seconds')");
      expect(await resumeEverywhere(server.url, t2b!, 1)).toEqual(expired);
      await markEnd(database.pool, ledger);
      const t4 = (await live.waitForChanges(7, 'live')).at(-1)?.id;
      expect(await resumeEverywhere(server.url, page.cursor, 1)).toEqual(everywhere({ ids: [t4] }));

      for (const garbage of ['garbage', '12', 'zz_zz_zz', '-1_0', '1_', `${t4}x`.replace(/_/g, '~'), 'x'.repeat(300)]) {
        const refused = await resumeEverywhere(server.url, garbage, 1);
        expect(refused, garbage).toEqual({ ...everywhere({ error: expect.any(String), status: 400 }), ws: { error: 'invalid_message' } });
      }
      live.close();
    } finally {
      await server.close();
    }
  });
});
