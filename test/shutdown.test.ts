/**
 * CONTRACT §1, §4 — SIGTERM with clients connected: WebSocket clients get
 * 1001, SSE streams end, and the process exits 0 within 5 seconds.
 */
import { expect, test } from './support/fixtures.js';
import type { TestDatabase } from './support/database.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';
import { bearer, connectAs, hmacToken, SECRET, sseUntilEnd, within } from './support/tokens.js';
import { TestWsClient } from './support/ws-client.js';

test('SIGTERM with WebSocket and SSE clients connected: 1001, streams end, exit 0 within 5 s', async ({ database }) => {
  const server = await startServerProcess({ DATABASE_URL: database.url, ROWCAST_JWT_SECRET: SECRET });
  try {
    await scenario(server, database);
  } finally {
    if (server.child.exitCode === null && server.child.signalCode === null) server.kill('SIGKILL');
    await server.exited;
  }
});

async function scenario(server: ServerProcess, database: TestDatabase): Promise<void> {
  const token = await hmacToken({ sub: 'u1', role: 'staff' });
  const viaHeader = await connectAs(server.url, token);
  const viaProtocol = await TestWsClient.connect(server.url, { protocols: ['rowcast.v1', `bearer.${token}`] });
  await viaHeader.subscribe({ id: 'o', table: 'orders' });
  await viaProtocol.subscribe({ id: 'p', table: 'posts' });
  const streams = await Promise.all([
    fetch(`${server.url}/sse/orders`, { headers: bearer(token) }),
    fetch(`${server.url}/sse/posts?token=${token}`),
  ]);
  for (const res of streams) expect(res.status).toBe(200);
  const ended = streams.map(sseUntilEnd);
  // Wait until the server really holds both streams before stopping it.
  await database.query("insert into orders (order_number) values ('before-stop')");
  await database.query("insert into posts (title) values ('before-stop')");
  await viaHeader.waitForChanges(1, 'o');
  await viaProtocol.waitForChanges(1, 'p');

  const started = Date.now();
  server.kill('SIGTERM');
  const [header, protocol] = await within(Promise.all([viaHeader.closed, viaProtocol.closed]), 5000, 'the WebSocket clients to be closed');
  expect(header.code).toBe(1001);
  expect(protocol.code).toBe(1001);
  const sse = await within(Promise.all(ended), 5000, 'the SSE streams to end');
  for (const stream of sse) expect(stream.text).toContain('before-stop');
  const exited = await within(server.exited, 5000 - (Date.now() - started), 'the process to exit');
  expect(exited).toEqual({ code: 0, signal: null });
  expect(Date.now() - started).toBeLessThan(5000);
  // A graceful stop ends each SSE response properly (its last chunk sent), not by cutting the connection.
  expect(sse.map((stream) => stream.how)).toEqual(['end', 'end']);
}
