/** CONTRACT §1: the server as a process: start, serve, stop cleanly, refuse a busy port. */
import { expect, test } from './support/fixtures.js';
import { runCli, startServerProcess } from './support/server-process.js';
import { TestWsClient } from './support/ws-client.js';

test('SIGTERM closes WebSocket clients with 1001 and exits 0', async ({ database }) => {
  const server = await startServerProcess({ DATABASE_URL: database.url });
  const ws = await TestWsClient.connect(server.url);
  await ws.subscribe({ id: 's', table: 'posts' });
  server.kill('SIGTERM');
  const [closed, exited] = await Promise.all([ws.closed, server.exited]);
  expect(closed.code).toBe(1001);
  expect(exited.code).toBe(0);
});

test('a port in use fails with one clear line and a non-zero exit', async ({ database }) => {
  const server = await startServerProcess({ DATABASE_URL: database.url });
  const second = await runCli(['serve'], { DATABASE_URL: database.url, PORT: String(server.port), HOST: '127.0.0.1' });
  expect(second.code).not.toBe(0);
  expect(second.stderr.trim().split('\n')).toEqual([`rowcast: cannot listen on 127.0.0.1:${server.port}: the port is already in use`]);
  server.kill('SIGTERM');
  await server.exited;
});

test('an unreachable database fails with one clear line', async () => {
  const result = await runCli(['serve'], { DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none', PORT: '0' });
  expect(result.code).not.toBe(0);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^rowcast: cannot reach PostgreSQL at 127\.0\.0\.1:1: /);
});

test('a malformed DATABASE_URL is a configuration error: exit 2, one line', async () => {
  const result = await runCli(['serve'], { DATABASE_URL: 'not a url' });
  expect(result.code).toBe(2);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).toContain('DATABASE_URL');
});

test('serve flags override the environment and are validated like it', async ({ database }) => {
  const bad = await runCli(['serve', '--port', '70000'], { DATABASE_URL: database.url });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('PORT');
  const unknown = await runCli(['serve', '--bogus'], { DATABASE_URL: database.url });
  expect(unknown.code).toBe(2);
});
