/**
 * CONTRACT §1, §4, §5 — what bad clients get: oversized frames, floods, too
 * many connections or subscriptions, dead peers, and filters that try to be SQL.
 */
import type { RowcastServer } from '../src/server.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { connectRaw, errorsOf, getJson, refusedUpgrade, within } from './support/tokens.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

const wsCount = async (url: string): Promise<number> => (await getJson(`${url}/stats`)).json.connections.ws;

async function withServer(databaseUrl: string, overrides: Parameters<typeof startTestServer>[1], fn: (server: RowcastServer) => Promise<void>): Promise<void> {
  const server = await startTestServer(databaseUrl, overrides);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

test('a 10 MB frame closes the connection with 1009; the server keeps serving others', async ({ rowcast, database }) => {
  const other = await TestWsClient.connect(rowcast.url);
  await other.subscribe({ id: 'p', table: 'posts' });
  const ws = await TestWsClient.connect(rowcast.url);
  ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(10 * 1024 * 1024) }));
  expect((await within(ws.closed, 10_000, 'close 1009')).code).toBe(1009);
  // Just over the default limit of 64 KiB is refused too; just under is served.
  const over = await TestWsClient.connect(rowcast.url);
  over.send('x'.repeat(64 * 1024 + 1));
  expect((await within(over.closed, 10_000, 'close 1009')).code).toBe(1009);
  const under = await TestWsClient.connect(rowcast.url);
  under.send(JSON.stringify({ type: 'ping', timestamp: 60, pad: 'x'.repeat(60 * 1024) }));
  await under.waitFor((m) => m.type === 'pong' && m.timestamp === 60);
  await database.query("insert into posts (title) values ('still serving')");
  expect((await other.waitForChanges(1, 'p'))[0]?.row.title).toBe('still serving');
  other.close();
  under.close();
});

test('1000 messages in one burst: some rate_limited errors, then close 1008', async ({ rowcast }) => {
  const ws = await TestWsClient.connect(rowcast.url);
  for (let i = 0; i < 1000; i++) ws.send({ type: 'ping', timestamp: i });
  const closed = await within(ws.closed, 10_000, 'close 1008');
  expect(closed.code).toBe(1008);
  const pongs = ws.messages.filter((m) => m.type === 'pong').length;
  const limited = ws.messages.filter((m) => m.type === 'error' && m.code === 'rate_limited').length;
  // Default 50/s with bursts of 100: the first hundred or so are served, the rest refused.
  expect(pongs).toBeGreaterThanOrEqual(90);
  expect(pongs).toBeLessThanOrEqual(150);
  expect(limited).toBeGreaterThan(0);
  expect(pongs + limited).toBeLessThan(1000);
  // Well-behaved clients next door are untouched.
  const calm = await TestWsClient.connect(rowcast.url);
  calm.send({ type: 'ping', timestamp: 1 });
  await calm.waitFor((m) => m.type === 'pong');
  calm.close();
});

test('a message refused with rate_limited is named by its id (ref), so a client can ask again for exactly that one', async ({ rowcast }) => {
  const ws = await TestWsClient.connect(rowcast.url);
  for (let i = 0; i < 110; i++) ws.send({ type: 'subscribe', id: `s${i}`, table: 'posts' });
  const refused = await ws.waitFor((m) => m.type === 'error' && m.code === 'rate_limited');
  expect(refused).toMatchObject({ ref: expect.stringMatching(/^s\d+$/) });
  ws.close();
});

test('maxConnections 3: the 4th WebSocket upgrade gets 503, SSE gets 503 with a JSON body; a freed slot is reusable', async ({ database }) => {
  await withServer(database.url, { maxConnections: 3 }, async (server) => {
    const first = await TestWsClient.connect(server.url);
    const second = await TestWsClient.connect(server.url);
    const controller = new AbortController();
    const sse = await fetch(`${server.url}/sse/posts`, { signal: controller.signal });
    expect(sse.status).toBe(200);
    for (let attempt = 0; attempt < 5; attempt++) {
      expect((await refusedUpgrade(server.url)).status).toBe(503);
      const refused = await getJson(`${server.url}/sse/posts`);
      expect(refused.status).toBe(503);
      expect(refused.json).toMatchObject({ error: { code: 'too_many_connections', message: expect.any(String) } });
    }
    controller.abort();
    first.close();
    await waitFor(async () => (await getJson(`${server.url}/stats`)).json.connections.sse === 0 && (await wsCount(server.url)) === 1, { what: 'slots freed' });
    // Refusals left no phantom connections behind: two slots are free again, not fewer.
    const third = await TestWsClient.connect(server.url);
    const fourth = await TestWsClient.connect(server.url);
    expect((await refusedUpgrade(server.url)).status).toBe(503);
    for (const ws of [second, third, fourth]) ws.close();
  });
});

test('maxConnections 3 and 30 SSE opens at once that each read a backlog first (since): 3 streams, 27 answers 503', async ({ database }) => {
  await withServer(database.url, { maxConnections: 3 }, async (server) => {
    const { json: start } = await getJson(`${server.url}/changes/posts?limit=1`);
    await database.query("insert into posts (title) select 'backlog ' || g from generate_series(1, 3000) g");
    const controller = new AbortController();
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => fetch(`${server.url}/sse/posts?since=${start.cursor}`, { signal: controller.signal })),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 503)).toHaveLength(27);
    expect((await getJson(`${server.url}/stats`)).json.connections.sse).toBe(3);
    controller.abort();
    await waitFor(async () => (await getJson(`${server.url}/stats`)).json.connections.sse === 0, { what: 'the streams freed' });
  });
});

test('HEAD /sse/:table answers the stream headers (or the refusal) and holds no connection: with maxConnections 2, three HEADs leave both slots free', async ({ database }) => {
  await withServer(database.url, { maxConnections: 2 }, async (server) => {
    for (let i = 0; i < 3; i++) {
      const head = await fetch(`${server.url}/sse/posts`, { method: 'HEAD' });
      expect([head.status, head.headers.get('content-type')]).toEqual([200, 'text/event-stream']);
    }
    expect((await fetch(`${server.url}/sse/no_such_table`, { method: 'HEAD' })).status).toBe(404);
    const stats = (await getJson(`${server.url}/stats`)).json;
    expect([stats.connections.sse, stats.subscriptions]).toEqual([0, 0]);
    const controller = new AbortController();
    const streams = [await fetch(`${server.url}/sse/posts`, { signal: controller.signal }), await fetch(`${server.url}/sse/posts`, { signal: controller.signal })];
    expect(streams.map((r) => r.status)).toEqual([200, 200]);
    // At the limit, HEAD answers as a GET would be: 503.
    expect((await fetch(`${server.url}/sse/posts`, { method: 'HEAD' })).status).toBe(503);
    controller.abort();
  });
});

test('100 subscriptions per connection; the 101st is too_many_subscriptions and the connection stays', async ({ database }) => {
  await withServer(database.url, { rateLimit: 1000 }, async (server) => {
    const ws = await TestWsClient.connect(server.url);
    for (let i = 0; i < 100; i++) ws.send({ type: 'subscribe', id: `s${i}`, table: 'posts' });
    await waitFor(() => ws.messages.filter((m) => m.type === 'subscribed').length === 100, { what: '100 subscribed' });
    ws.send({ type: 'subscribe', id: 'one-too-many', table: 'posts' });
    await ws.waitFor((m) => m.type === 'error' && m.ref === 'one-too-many');
    expect(errorsOf(ws)).toEqual(['too_many_subscriptions one-too-many']);
    ws.send({ type: 'unsubscribe', id: 's0' });
    await ws.waitFor((m) => m.type === 'unsubscribed' && m.id === 's0');
    await ws.subscribe({ id: 'room-again', table: 'posts' });
    ws.close();
  });
});

test('heartbeat: a peer that never answers pings is terminated; a normal client stays', async ({ database }) => {
  await withServer(database.url, { heartbeatMs: 200 }, async (server) => {
    const normal = await TestWsClient.connect(server.url);
    let pings = 0;
    normal.socket.on('ping', () => (pings += 1));
    const dead = await connectRaw(server.url, { autoPong: false });
    expect(dead.messages[0]).toMatchObject({ type: 'welcome', heartbeat_ms: 200 });
    const closed = await within(dead.closed, 5000, 'the silent peer to be dropped');
    expect(closed.code).toBe(1006); // terminated, no close handshake
    await waitFor(async () => (await wsCount(server.url)) === 1, { what: 'one ws connection left' });
    const seen = pings;
    await waitFor(() => pings >= seen + 3, { what: 'three more pings to the normal client' });
    expect(normal.socket.readyState).toBe(normal.socket.OPEN);
    normal.send({ type: 'ping', timestamp: 3 });
    await normal.waitFor((m) => m.type === 'pong' && m.timestamp === 3);
    normal.close();
  });
});

test('filters are data, never SQL: injection attempts are invalid or match literally, and the tables survive', async ({ rowcast, database }) => {
  const evil = "x'; drop table orders; --";
  const ws = await TestWsClient.connect(rowcast.url);
  ws.send({ type: 'subscribe', id: 'num', table: 'orders', filter: { id: 'eq.1; drop table orders' } });
  ws.send({ type: 'subscribe', id: 'col', table: 'orders', filter: { 'status; drop table orders': 'eq.x' } });
  ws.send({ type: 'subscribe', id: 'in', table: 'orders', filter: { customer_name: 'in.(a,b); drop table orders' } });
  ws.send({ type: 'subscribe', id: 'tbl', table: 'orders; drop table posts' });
  ws.send({ type: 'subscribe', id: 'cur', table: 'orders', since: "1_0'; drop table posts; --" });
  await ws.waitFor((m) => m.type === 'error' && m.ref === 'cur');
  expect(errorsOf(ws).sort()).toEqual(['invalid_message col', 'invalid_message cur', 'invalid_message in', 'invalid_message num', 'unknown_table tbl']);
  await ws.subscribe({ id: 'txt', table: 'orders', filter: { customer_name: `eq.${evil}` } });
  await ws.subscribe({ id: 'all', table: 'orders' });

  const q = encodeURIComponent;
  expect((await getJson(`${rowcast.url}/sse/orders?id=${q('eq.1; drop table orders')}`)).status).toBe(400);
  expect((await getJson(`${rowcast.url}/changes/orders?id=${q('eq.1; drop table orders')}`)).status).toBe(400);
  expect((await getJson(`${rowcast.url}/changes/${q('orders; drop table posts')}`)).status).toBe(404);
  expect((await getJson(`${rowcast.url}/changes/orders?since=${q("1_0'; drop table posts")}`)).status).toBe(400);

  await database.query('insert into orders (order_number, customer_name) values ($1, $2), ($3, $4)', ['I-1', 'plain', 'I-2', evil]);
  await ws.waitForChanges(2, 'all');
  expect(ws.changes('txt').map((c) => c.row.customer_name)).toEqual([evil]);
  const literal = await getJson(`${rowcast.url}/changes/orders?customer_name=${q(`eq.${evil}`)}`);
  expect(literal.json.changes.map((c: { row: { order_number: string } }) => c.row.order_number)).toEqual(['I-2']);
  const { rows } = await database.query("select to_regclass('public.orders') as orders, to_regclass('public.posts') as posts, (select count(*)::int from orders) as n");
  expect(rows[0]).toEqual({ orders: 'orders', posts: 'posts', n: 2 });
  ws.close();
});
