/** CONTRACT §6 /metrics and /stats, scraped after real traffic; the LISTEN connection killed for real. */
import pg from 'pg';
import { inject } from 'vitest';
import { SignJWT } from 'jose';
import { expect, startTestServer, test } from './support/fixtures.js';
import { scrape } from './support/prometheus.js';
import { TestSseClient } from './support/sse-client.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

test('counters move by exactly the traffic sent; gauges and /stats match the connections open', async ({ rowcast, database }) => {
  const before = await scrape(rowcast.url);
  const ws = await TestWsClient.connect(rowcast.url);
  await ws.subscribe({ id: 'a', table: 'posts' });
  await ws.subscribe({ id: 'b', table: 'orders' });
  const sse = new TestSseClient(`${rowcast.url}/sse/posts`);
  await sse.opened();

  await database.query("insert into posts (title) select 'm-' || g from generate_series(1, 7) g");
  await database.query("insert into orders (order_number) values ('M-1')");
  await ws.waitForChanges(7, 'a');
  await ws.waitForChanges(1, 'b');
  await sse.waitForEvents(7);

  const after = await scrape(rowcast.url);
  const delta = (name: string, labels?: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
  expect(delta('rowcast_changes_read_total')).toBe(8);
  expect(delta('rowcast_changes_delivered_total', { transport: 'ws' })).toBe(8);
  expect(delta('rowcast_changes_delivered_total', { transport: 'sse' })).toBe(7);
  expect(after.value('rowcast_connections', { transport: 'ws' })).toBe(1);
  expect(after.value('rowcast_connections', { transport: 'sse' })).toBe(1);
  expect(after.value('rowcast_subscriptions', { table: 'public.posts' })).toBe(2);
  expect(after.value('rowcast_subscriptions', { table: 'public.orders' })).toBe(1);
  expect(after.value('rowcast_listener_up')).toBe(1);
  const histogram = after.families.get('rowcast_commit_to_send_seconds');
  expect(histogram?.type).toBe('HISTOGRAM');
  expect(Number(histogram?.metrics[0]?.count) - Number(before.families.get('rowcast_commit_to_send_seconds')?.metrics[0]?.count ?? 0)).toBe(8);
  expect(after.families.has('process_cpu_user_seconds_total')).toBe(true);

  const stats = (await (await fetch(`${rowcast.url}/stats`)).json()) as {
    connections: { ws: number; sse: number };
    subscriptions: number;
    changes: { received: number; delivered: number };
    listener: { connected: boolean; lag_ms: number };
    tables: Record<string, { subscriptions: number }>;
  };
  expect(stats.connections).toEqual({ ws: 1, sse: 1 });
  expect(stats.subscriptions).toBe(3);
  expect(stats.changes.received).toBe(8);
  expect(stats.changes.delivered).toBe(15);
  expect(stats.listener.connected).toBe(true);
  expect(stats.tables['public.posts']).toEqual({ subscriptions: 2 });

  ws.close();
  sse.close();
  await waitFor(async () => (await scrape(rowcast.url)).value('rowcast_connections', { transport: 'ws' }) === 0, { what: 'ws gauge back to 0' });
});

test('a killed LISTEN backend shows in /health and /metrics, recovers, and nothing is missed', async ({ rowcast, database }) => {
  const ws = await TestWsClient.connect(rowcast.url);
  await ws.subscribe({ id: 'p', table: 'posts' });
  // Connected to another database: this one's connections get refused below.
  const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
  await admin.connect();
  const reconnectsBefore = (await scrape(rowcast.url)).value('rowcast_listener_reconnects_total');

  const dbName = new URL(database.url).pathname.slice(1);
  const writer = await database.pool.connect();
  // Keep the listener out while it is down, so the outage is observable.
  await admin.query(`alter database ${dbName} allow_connections false`);
  const { rows } = await admin.query(
    "select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = 'rowcast-listen' and datname = $1",
    [dbName],
  );
  expect(rows.map((r) => r.killed)).toEqual([true]);
  await waitFor(async () => (await fetch(`${rowcast.url}/health`)).status === 503, { what: '/health to report the listener down' });
  const down = (await (await fetch(`${rowcast.url}/health`)).json()) as { listener: string };
  expect(down.listener).toBe('disconnected');
  expect((await scrape(rowcast.url)).value('rowcast_listener_up')).toBe(0);
  // Written while the listener is down (from a pooled connection that was already open): must still arrive.
  await writer.query("insert into posts (title) values ('while-down')");
  writer.release();
  await admin.query(`alter database ${dbName} allow_connections true`);

  await waitFor(async () => (await scrape(rowcast.url)).value('rowcast_listener_reconnects_total') === reconnectsBefore + 1, {
    what: 'the listener to reconnect',
  });
  const health = await fetch(`${rowcast.url}/health`);
  expect(health.status).toBe(200);
  await database.query("insert into posts (title) values ('after')");
  const changes = await ws.waitForChanges(2, 'p');
  expect(changes.map((c) => c.row.title)).toEqual(['while-down', 'after']);
  await admin.end();
  ws.close();
});

test('refusals are counted by reason on both transports and the HTTP routes', async ({ database }) => {
  const secret = 'x'.repeat(32);
  const server = await startTestServer(database.url, { jwt: { secret }, allowedOrigins: ['https://app.example'] });
  try {
    const token = await new SignJWT({ sub: 'u1', role: 'staff' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(secret));
    const evil = { origin: 'https://evil.example', authorization: `Bearer ${token}` };
    expect((await fetch(`${server.url}/sse/posts`, { headers: evil })).status).toBe(403);
    await expect(TestWsClient.connect(server.url, { headers: evil })).rejects.toThrow('HTTP 403');
    expect((await fetch(`${server.url}/sse/posts`)).status).toBe(401);
    // Requests of the HTTP routes refused for their token count too.
    for (const path of ['/changes/posts', '/tables', '/stats']) expect((await fetch(`${server.url}${path}?token=forged`)).status).toBe(401);
    const metrics = await scrape(server.url);
    expect(metrics.value('rowcast_connections_refused_total', { reason: 'forbidden_origin' })).toBe(2);
    expect(metrics.value('rowcast_connections_refused_total', { reason: 'unauthorized' })).toBe(4);
  } finally {
    await server.close();
  }
});
