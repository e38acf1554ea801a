/**
 * The client SDK (src/client) in Node against real servers: typed changes,
 * exactly-once delivery across a server restart, the state machine, token
 * refresh and refusal, the SSE helper's resume, and the types a user sees.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import {
  backoffDelay,
  createClient,
  subscribeSse,
  RowcastClientError,
  type ChangeEvent,
  type ConnectionState,
  type ConnectionStateKind,
  type Orders,
  type RowcastClient,
} from '../src/client/index.js';
import { transition } from '../src/client/connection-state.js';
import { tableInfo } from './support/exposure.js';
import { describe, expect, startTestServer, test } from './support/fixtures.js';
import { ROOT } from './support/server-process.js';
import { startTcpProxy } from './support/tcp-proxy.js';
import { waitFor } from './support/wait.js';

const FAST_BACKOFF = { initialMs: 20, maxMs: 200 };
const SECRET = 'x'.repeat(32);

/** Records the client's state kinds, collapsing repeats (each failed attempt is a new `reconnecting`). */
function recordStates(client: RowcastClient): ConnectionStateKind[] {
  const kinds: ConnectionStateKind[] = [client.state.kind];
  client.on('state', (state) => {
    if (kinds.at(-1) !== state.kind) kinds.push(state.kind);
  });
  return kinds;
}

function signToken(claims: { sub: string; role: string }, expiresInSeconds: number): Promise<string> {
  return new SignJWT({ role: claims.role })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
    .sign(new TextEncoder().encode(SECRET));
}

test('backoff is full jitter under an exponential ceiling', () => {
  const options = { initialMs: 100, maxMs: 1000 };
  expect([1, 2, 3, 4, 5, 10].map((attempt) => backoffDelay(attempt, options, () => 0.999))).toEqual([99, 199, 399, 799, 999, 999]);
  expect(backoffDelay(7, options, () => 0)).toBe(0);
});

test('the state machine: drops back off further each time, welcome resets, closed is final', () => {
  const context = { backoff: { initialMs: 100, maxMs: 1000 }, random: () => 0.5 };
  const steps: ConnectionState[] = [{ kind: 'connecting' }];
  const step = (event: Parameters<typeof transition>[1]) => steps.push(transition(steps.at(-1) as ConnectionState, event, context));
  step({ type: 'lost', reason: 'refused' });
  step({ type: 'lost', reason: 'refused' });
  step({ type: 'welcome', connectionId: 'c1' });
  step({ type: 'lost', reason: 'dropped' });
  step({ type: 'lost', reason: 'token refused', immediate: true });
  step({ type: 'fatal', error: new RowcastClientError('unauthorized', 'no') });
  step({ type: 'welcome', connectionId: 'c2' });
  expect(steps.map((s) => (s.kind === 'reconnecting' ? `reconnecting ${s.attempt} ${s.retryInMs}` : s.kind))).toEqual([
    'connecting',
    'reconnecting 1 50',
    'reconnecting 2 100',
    'open',
    'reconnecting 1 50',
    'reconnecting 2 0',
    'closed',
    'closed',
  ]);
  expect(transition({ kind: 'open', connectionId: 'c1' }, { type: 'close' }, context)).toEqual({ kind: 'closed', error: null });
});

test('a typed subscription receives INSERT, UPDATE and DELETE in order', async ({ rowcast, database }) => {
  const client = createClient({ url: rowcast.url, WebSocket });
  const changes: ChangeEvent<Orders>[] = [];
  let subscribed = 0;
  client.subscribe('orders', { onSubscribed: () => (subscribed += 1) }, (change) => changes.push(change));
  await waitFor(() => subscribed === 1, { what: 'the subscription' });

  await database.query("insert into orders (order_number, customer_name, total) values ('C-1', 'Ada', 12.50)");
  await database.query("update orders set status = 'paid' where order_number = 'C-1'");
  await database.query("delete from orders where order_number = 'C-1'");

  await waitFor(() => changes.length === 3, { what: '3 changes' });
  expect(changes.map((c) => c.op)).toEqual(['INSERT', 'UPDATE', 'DELETE']);
  const [insert, update, remove] = changes;
  expect(insert).toMatchObject({ table: 'orders', schema: 'public', old: null, row: { order_number: 'C-1', total: 12.5, status: 'pending' } });
  expect(update?.row.status).toBe('paid');
  expect(update?.old?.status).toBe('pending');
  expect(remove?.row.id).toBe(insert?.row.id);
  client.close();
  expect(client.state).toEqual({ kind: 'closed', error: null });
});

test('rows arrive as their columns are: a column named __proto__ is an own key (not the prototype), arrays keep null elements, a virtual generated column is null', async ({ rowcast, database }) => {
  await database.query(`
    create table public.odd_rows (id int primary key, "__proto__" text, nums int[], twice int generated always as (id * 2) virtual);
    select rowcast.expose('public.odd_rows');`);
  await waitFor(async () => (await tableInfo(rowcast.url, 'odd_rows')) !== undefined, { what: 'odd_rows served' });
  const client = createClient<Record<string, Record<string, unknown>>>({ url: rowcast.url, WebSocket });
  const rows: Array<Record<string, unknown>> = [];
  let subscribed = 0;
  client.subscribe('odd_rows', { onSubscribed: () => (subscribed += 1) }, (change) => rows.push(change.row));
  await waitFor(() => subscribed === 1, { what: 'the subscription' });
  await database.query(`insert into odd_rows values (1, 'proto', array[1, null, 3])`);
  await waitFor(() => rows.length === 1, { what: 'the row' });
  const [row] = rows;
  expect(Object.keys(row!)).toEqual(['id', '__proto__', 'nums', 'twice']);
  expect(Object.getOwnPropertyDescriptor(row, '__proto__')?.value).toBe('proto');
  expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
  expect(row).toMatchObject({ nums: [1, null, 3], twice: null });
  client.close();
});

test('filters and ops apply, and unsubscribing stops the handler', async ({ rowcast, database }) => {
  const client = createClient({ url: rowcast.url, WebSocket });
  const paid: string[] = [];
  const all: string[] = [];
  let subscribed = 0;
  const onSubscribed = () => (subscribed += 1);
  const stopPaid = client.subscribe('orders', { ops: ['UPDATE'], filter: { status: 'eq.paid' }, onSubscribed }, (c) => paid.push(c.row.order_number ?? ''));
  client.subscribe('orders', { onSubscribed }, (c) => all.push(`${c.op} ${c.row.order_number}`));
  await waitFor(() => subscribed === 2, { what: 'both subscriptions' });

  await database.query("insert into orders (order_number) values ('F-1'), ('F-2')");
  await database.query("update orders set status = 'paid' where order_number = 'F-1'");
  await database.query("update orders set status = 'shipped' where order_number = 'F-2'");
  await waitFor(() => all.length === 4, { what: '4 changes' });
  expect(paid).toEqual(['F-1']);

  stopPaid();
  await database.query("update orders set status = 'paid' where order_number = 'F-2'");
  await waitFor(() => all.length === 5, { what: 'the fifth change' });
  expect(paid).toEqual(['F-1']);
  client.close();
});

test('unsubscribing before the server confirmed leaves nothing behind on the server', async ({ rowcast }) => {
  const client = createClient({ url: rowcast.url, WebSocket });
  await waitFor(() => client.state.kind === 'open', { what: 'open' });
  const stop = client.subscribe('orders', {}, () => {});
  stop();
  let subscribed = 0;
  client.subscribe('posts', { onSubscribed: () => (subscribed += 1) }, () => {});
  await waitFor(() => subscribed === 1, { what: 'the posts subscription' });
  const serverSubscriptions = async () => ((await (await fetch(`${rowcast.url}/stats`)).json()) as { subscriptions: number }).subscriptions;
  await waitFor(async () => (await serverSubscriptions()) === 1, { what: 'one subscription on the server' });
  client.close();
  await waitFor(async () => (await serverSubscriptions()) === 0, { what: 'none after close' });
});

test('a subscription the server ends is asked for again; refused then, the application hears it with its table', async ({ rowcast, database }) => {
  const sent: Array<{ type: string; id?: string }> = [];
  class RecordingWebSocket extends WebSocket {
    override send(data: string): void {
      sent.push(JSON.parse(data) as { type: string; id?: string });
      super.send(data);
    }
  }
  const client = createClient({ url: rowcast.url, WebSocket: RecordingWebSocket as unknown as typeof WebSocket });
  const errors: RowcastClientError[] = [];
  client.on('error', (error) => errors.push(error));
  let subscribed = 0;
  const orders: string[] = [];
  client.subscribe('posts', { onSubscribed: () => (subscribed += 1) }, () => {});
  client.subscribe('orders', { onSubscribed: () => (subscribed += 1) }, (c) => orders.push(c.row.order_number ?? ''));
  await waitFor(() => subscribed === 2, { what: 'both subscriptions' });

  await database.query("select rowcast.unexpose('posts')");
  await waitFor(() => errors.length === 1, { what: 'the refusal' });
  expect(errors[0]).toMatchObject({ code: 'unknown_table', table: 'posts' });
  expect(sent.filter((m) => m.type === 'subscribe' && m.id === 's1')).toHaveLength(2);
  expect(client.state.kind).toBe('open');
  await database.query("insert into orders (order_number) values ('still-here')");
  await waitFor(() => orders.length === 1, { what: 'the orders subscription to go on' });
  expect(orders).toEqual(['still-here']);
  expect(errors).toHaveLength(1);
  client.close();
});

test('across a server restart, with writes going on, the handler sees every change once and in order', async ({ database }) => {
  let server = await startTestServer(database.url);
  const port = server.port;
  const client = createClient({ url: server.url, WebSocket, backoff: FAST_BACKOFF });
  const states = recordStates(client);
  const seen: string[] = [];
  let subscribed = 0;
  client.subscribe('orders', { ops: ['INSERT'], onSubscribed: () => (subscribed += 1) }, (c) => seen.push(c.row.order_number ?? ''));
  await waitFor(() => subscribed === 1, { what: 'the subscription' });

  // One writer, one row per commit: commit order is, … while the server goes away and comes back.
  let written = 0;
  let stopWriting = false;
  const writer = (async () => {
    while (!stopWriting && written < 5000) {
      await database.query('insert into orders (order_number) values ($1)', [`R-${written + 1}`]);
      written += 1;
    }
  })();
  try {
    await waitFor(() => seen.length >= 20, { what: 'changes before the restart' });
    await server.close();
    await waitFor(() => client.state.kind === 'reconnecting', { what: 'reconnecting' });
    const writtenBeforeRestart = written;
    server = await startTestServer(database.url, { port });
    await waitFor(() => subscribed === 2, { timeoutMs: 15_000, what: 'the resubscription' });
    const writtenAtResubscribe = written;
    expect(writtenAtResubscribe).toBeGreaterThan(writtenBeforeRestart);
    await waitFor(() => written >= writtenAtResubscribe + 20, { what: 'writes after the resubscription' });
  } finally {
    stopWriting = true;
    await writer;
  }
  await waitFor(() => seen.length >= written, { timeoutMs: 15_000, what: `${written} changes (have ${seen.length})` });
  expect(seen).toEqual(Array.from({ length: written }, (_, i) => `R-${i + 1}`));
  client.close();
  expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed']);
  await server.close();
});

test('a connection gone silent is given up on at the heartbeat, and the feed resumes without a gap', async ({ database }) => {
  const server = await startTestServer(database.url, { heartbeatMs: 200 });
  const proxy = await startTcpProxy(server.port);
  const client = createClient({ url: proxy.url, WebSocket, backoff: FAST_BACKOFF });
  const states = recordStates(client);
  const seen: string[] = [];
  let subscribed = 0;
  client.subscribe('posts', { onSubscribed: () => (subscribed += 1) }, (c) => seen.push(`${c.op} ${c.row.title}`));
  try {
    await waitFor(() => subscribed === 1, { what: 'the subscription' });
    await database.query("insert into posts (title) values ('H-1')");
    await waitFor(() => seen.length === 1, { what: 'the first change' });
    proxy.freeze();
    await database.query("insert into posts (title) values ('H-2')");
    await database.query("update posts set likes = 1 where title = 'H-1'");
    await waitFor(() => subscribed === 2, { what: 'a resubscription over a new connection' });
    await database.query("delete from posts where title = 'H-2'");
    await waitFor(() => seen.length === 4, { what: '4 changes' });
    expect(seen).toEqual(['INSERT H-1', 'INSERT H-2', 'UPDATE H-1', 'DELETE H-2']);
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open']);
  } finally {
    client.close();
    await proxy.close();
    await server.close();
  }
});

describe('tokens', () => {
  test('a token the server refuses closes the client with an error after one refresh, without retrying forever', async ({ database }) => {
    const server = await startTestServer(database.url, { jwt: { secret: SECRET } });
    let sockets = 0;
    class CountingWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        sockets += 1;
      }
    }
    let tokenCalls = 0;
    const client = createClient({
      url: server.url,
      WebSocket: CountingWebSocket,
      backoff: FAST_BACKOFF,
      token: () => {
        tokenCalls += 1;
        return 'not.a.valid-token';
      },
    });
    const states = recordStates(client);
    const errors: RowcastClientError[] = [];
    client.on('error', (error) => errors.push(error));
    await waitFor(() => client.state.kind === 'closed', { what: 'closed' });
    expect(states).toEqual(['connecting', 'reconnecting', 'closed']);
    expect(errors.map((e) => e.code)).toEqual(['unauthorized']);
    expect(tokenCalls).toBe(2);
    // With 20 ms backoff a retrying client would have opened more sockets by now.
    await expect(waitFor(() => sockets > 2, { timeoutMs: 300 })).rejects.toThrow(/timed out/);
    expect(sockets).toBe(2);

    const fixed = createClient({ url: server.url, WebSocket, token: 'also-not-a-jwt' });
    await waitFor(() => fixed.state.kind === 'closed', { what: 'closed' });
    expect(fixed.state).toMatchObject({ kind: 'closed', error: { code: 'unauthorized' } });
    await server.close();
  });

  test('a token function is asked again before exp, and the connection stays open past the first token', async ({ database }) => {
    const server = await startTestServer(database.url, { jwt: { secret: SECRET } });
    const expiries: number[] = [];
    const client = createClient({
      url: server.url,
      WebSocket,
      backoff: FAST_BACKOFF,
      token: async () => {
        const token = await signToken({ sub: 'u1', role: 'staff' }, 3);
        expiries.push(Math.floor(Date.now() / 1000) + 3);
        return token;
      },
    });
    const states = recordStates(client);
    const totals: Array<number | 'NaN' | null> = [];
    let subscribed = 0;
    client.subscribe('orders', { onSubscribed: () => (subscribed += 1) }, (c) => totals.push(c.row.total));
    await waitFor(() => subscribed === 1, { what: 'the subscription' });
    const firstExpiry = expiries[0] as number;
    await waitFor(() => Date.now() > firstExpiry * 1000 + 500, { timeoutMs: 5000, what: 'the first token to expire' });
    await database.query("insert into orders (order_number, total) values ('T-1', 7)");
    await waitFor(() => totals.length === 1, { what: 'a change after the first token expired' });
    expect(totals).toEqual([7]);
    expect(expiries.length).toBeGreaterThanOrEqual(2);
    expect(states).toEqual(['connecting', 'open']);
    client.close();
    await server.close();
  });
});

test('the SSE helper resumes after the server restarts, each change once and in order', async ({ database }) => {
  let server = await startTestServer(database.url);
  const port = server.port;
  const titles: string[] = [];
  const errors: RowcastClientError[] = [];
  let opened = 0;
  const stop = subscribeSse(
    server.url,
    'posts',
    { EventSource, ops: ['INSERT'], filter: { author_id: 'eq.sse' }, onSubscribed: () => (opened += 1), onError: (e) => errors.push(e) },
    (change) => titles.push(change.row.title ?? ''),
  );
  const insert = (title: string, author = 'sse') => database.query('insert into posts (author_id, title) values ($1, $2)', [author, title]);
  try {
    await waitFor(() => opened === 1, { what: 'the event stream' });
    await insert('P-1');
    await insert('other', 'someone-else');
    await insert('P-2');
    await waitFor(() => titles.length === 2, { what: '2 events' });
    await server.close();
    await insert('P-3');
    await insert('P-4');
    server = await startTestServer(database.url, { port });
    // EventSource reconnects by itself (3 s by default) and sends Last-Event-ID.
    await waitFor(() => opened === 2, { timeoutMs: 15_000, what: 'the stream to reopen' });
    await insert('P-5');
    await waitFor(() => titles.length === 5, { what: '5 events' });
    expect(titles).toEqual(['P-1', 'P-2', 'P-3', 'P-4', 'P-5']);
    expect(errors).toEqual([]);
  } finally {
    stop();
    await server.close();
  }
});

test('a user of rowcast/client gets typed rows: a wrong column does not compile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rowcast-types-'));
  try {
    // The package resolved by name, as an application would: through the exports map.
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'rowcast'));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', lib: ['ES2023', 'DOM'], noEmit: true, skipLibCheck: true, types: [] },
        files: ['usage.mts'],
      }),
    );
    writeFileSync(
      join(dir, 'usage.mts'),
      [
        "import { createClient, type ChangeEvent, type Orders } from 'rowcast/client';",
        "const client = createClient({ url: 'http://127.0.0.1:8080', token: async () => 'jwt' });",
        "client.subscribe('orders', { ops: ['INSERT'], filter: { status: 'eq.paid' } }, (change) => {",
        '  const typed: ChangeEvent<Orders> = change;',
        "  const total: number | 'NaN' | null = change.row.total;",
        '  return [typed, total, change.row.totl];',
        '});',
        "client.subscribe('orders', { filter: { statuss: 'eq.paid' } }, () => {});",
        "client.subscribe('invoices', {}, () => {});",
        '',
      ].join('\n'),
    );
    const result = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', dir], { encoding: 'utf8', timeout: 60_000 });
    const errors = result.stdout.trim().split('\n').map((line) => line.replace(/^.*usage\.mts/, 'usage.mts'));
    expect(errors).toEqual([
      expect.stringMatching(/^usage\.mts\(6,\d+\): error TS2551: Property 'totl' does not exist on type 'Orders'/),
      expect.stringMatching(/^usage\.mts\(8,\d+\): error TS2561: .*'statuss' does not exist in type 'ColumnFilter<Orders>'/),
      expect.stringMatching(/^usage\.mts\(9,\d+\): error TS2345: Argument of type '"invoices"' is not assignable/),
    ]);
    expect(result.status).not.toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
