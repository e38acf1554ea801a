/** CONTRACT §1: the server as a process: start, serve, stop cleanly, refuse a busy port. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { expect, test } from './support/fixtures.js';
import { freePort } from './support/ports.js';
import { CLI, ROOT, runCli, startServerProcess } from './support/server-process.js';
import { waitFor } from './support/wait.js';
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
  expect(second.code).toBe(2);
  expect(second.stderr.trim().split('\n')).toEqual([`rowcast: cannot listen on 127.0.0.1:${server.port}: the port is already in use`]);
  server.kill('SIGTERM');
  await server.exited;
});

test('a HOST that is not an address of this machine fails with one line saying so, not "port in use"', async ({ database }) => {
  const result = await runCli(['serve'], { DATABASE_URL: database.url, HOST: '192.0.2.1', PORT: '8089' });
  expect(result.code).toBe(2);
  expect(result.stderr.trim().split('\n')).toEqual(['rowcast: cannot listen on 192.0.2.1:8089: HOST is not an address of this machine']);
});

test('an unreachable database fails with one clear line', async () => {
  const result = await runCli(['serve'], { DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none', PORT: '0' });
  expect(result.code).toBe(2);
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

test('with no DATABASE_URL: embedded PostgreSQL under the data dir, a second start refused, Ctrl-C stops both cleanly, data kept', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'rowcast-embedded-'));
  chmodSync(dataDir, 0o755);
  const env = { DATABASE_URL: '', ROWCAST_DATA_DIR: dataDir, ROWCAST_EMBEDDED_PG_PORT: String(await freePort()) };
  const first = await startServerProcess(env);
  const ws = await TestWsClient.connect(first.url);
  await ws.subscribe({ id: 'o', table: 'orders' });
  const db = new pg.Client({ connectionString: `postgres://postgres:${readFileSync(join(dataDir, 'pg-password'), 'utf8').trim()}@127.0.0.1:${env.ROWCAST_EMBEDDED_PG_PORT}/postgres` });
  await db.connect();
  await db.query("insert into orders (order_number) values ('E-1')");
  await db.end();
  await ws.waitForChanges(1, 'o');

  const second = await runCli(['serve'], { ...env, PORT: String(await freePort()) });
  expect(second.code).toBe(2);
  expect(second.stderr.trim().split('\n')).toHaveLength(1);
  expect(second.stderr).toMatch(/already running .*another Rowcast/);

  first.kill('SIGINT');
  expect((await first.exited).code).toBe(0);
  expect(existsSync(join(dataDir, 'pgdata', 'postmaster.pid'))).toBe(false);

  // Data is kept: a new start serves the same database, with the row from before.
  const again = await startServerProcess(env);
  const res = await fetch(`${again.url}/changes/orders`);
  const body = (await res.json()) as { changes: Array<{ row: { order_number: string } }> };
  expect(body.changes.map((c) => c.row.order_number)).toEqual(['E-1']);
  again.kill('SIGTERM');
  expect((await again.exited).code).toBe(0);
});

/** A data directory of its own, for a server on the embedded PostgreSQL. */
async function embeddedEnv(): Promise<{ dataDir: string; env: Record<string, string> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'rowcast-embedded-'));
  chmodSync(dataDir, 0o755);
  return { dataDir, env: { DATABASE_URL: '', ROWCAST_DATA_DIR: dataDir, ROWCAST_EMBEDDED_PG_PORT: String(await freePort()) } };
}

const postmasterPid = (dataDir: string) => join(dataDir, 'pgdata', 'postmaster.pid');

/** Whether a process runs (a zombie, exited but not yet reaped by whoever inherited it, does not). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

test('killed with SIGKILL, the server leaves its embedded PostgreSQL running; the next start stops that one, starts its own and serves the same data', { timeout: 60_000 }, async () => {
  const { dataDir, env } = await embeddedEnv();
  const first = await startServerProcess(env);
  await fetch(`${first.url}/changes/orders`);
  const db = new pg.Client({ connectionString: `postgres://postgres:${readFileSync(join(dataDir, 'pg-password'), 'utf8').trim()}@127.0.0.1:${env.ROWCAST_EMBEDDED_PG_PORT}/postgres` });
  await db.connect();
  await db.query("insert into orders (order_number) values ('K-1')");
  await db.end();
  first.kill('SIGKILL');
  await first.exited;
  const orphan = Number(readFileSync(postmasterPid(dataDir), 'utf8').split('\n')[0]);
  expect(running(orphan), 'the PostgreSQL of the killed server still runs').toBe(true);

  const again = await startServerProcess(env);
  expect(again.output()).toMatch(/stopped the embedded PostgreSQL a killed Rowcast had left running/);
  expect(running(orphan), 'the orphan was stopped').toBe(false);
  const body = (await (await fetch(`${again.url}/changes/orders`)).json()) as { changes: Array<{ row: { order_number: string } }> };
  expect(body.changes.map((c) => c.row.order_number)).toEqual(['K-1']);
  again.kill('SIGTERM');
  expect((await again.exited).code).toBe(0);
  expect(existsSync(postmasterPid(dataDir))).toBe(false);
  rmSync(dataDir, { recursive: true, force: true });
});

test('npm start stopped with SIGTERM (what a process manager sends npm): the server and its embedded PostgreSQL stop too', { timeout: 60_000 }, async () => {
  const { dataDir, env } = await embeddedEnv();
  const port = await freePort();
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', ROWCAST_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const npmExited = new Promise((resolve) => npm.once('exit', resolve));
  const health = () => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 0);
  await waitFor(async () => (await health()) === 200, { timeoutMs: 30_000, what: 'npm start to serve' });
  npm.kill('SIGTERM');
  await npmExited;
  await waitFor(async () => (await health()) === 0 && !existsSync(postmasterPid(dataDir)), { timeoutMs: 15_000, what: 'the server and its PostgreSQL to stop' });
  rmSync(dataDir, { recursive: true, force: true });
});

test('the embedded PostgreSQL port taken by another program: one line with PostgreSQL\'s own reason', { timeout: 60_000 }, async () => {
  const { dataDir, env } = await embeddedEnv();
  const squatter = createServer().listen(Number(env.ROWCAST_EMBEDDED_PG_PORT), '127.0.0.1');
  await once(squatter, 'listening');
  try {
    const result = await runCli(['serve'], { ...env, PORT: String(await freePort()) }, 60_000);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^rowcast: the embedded PostgreSQL did not start on port ${env.ROWCAST_EMBEDDED_PG_PORT}: .*Address already in use`));
  } finally {
    squatter.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a data directory below one only its owner may enter: as root (PostgreSQL then runs as postgres) one line naming the denied access, as another user it starts', { timeout: 90_000 }, async () => {
  const closed = mkdtempSync(join(tmpdir(), 'rowcast-closed-'));
  chmodSync(closed, 0o700);
  const env = { DATABASE_URL: '', ROWCAST_DATA_DIR: join(closed, 'data'), ROWCAST_EMBEDDED_PG_PORT: String(await freePort()) };
  try {
    const result = await runCli(['migrate'], env, 90_000);
    if (process.getuid?.() === 0) {
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/did not start on port \d+: .*[Pp]ermission denied .*runs as the user postgres/);
    } else {
      expect(result, result.stderr).toMatchObject({ code: 0 });
    }
  } finally {
    rmSync(closed, { recursive: true, force: true });
  }
});

test('started outside npm, the server outlives the process that started it (nohup, a detaching script)', { timeout: 60_000 }, async ({ database }) => {
  const port = await freePort();
  // A shell that starts the server in the background, then exits once told to: the server is re-parented.
  const shell = spawn('sh', ['-c', `"${process.execPath}" "${CLI}" serve </dev/null >/dev/null 2>&1 & echo $!; read done`], {
    cwd: ROOT,
    env: { ...process.env, npm_lifecycle_event: '', DATABASE_URL: database.url, PORT: String(port), HOST: '127.0.0.1', ROWCAST_LOG_LEVEL: 'warn' },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  let printed = '';
  shell.stdout.on('data', (d) => (printed += d.toString()));
  const health = () => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 0);
  await waitFor(() => printed.includes('\n'), { what: 'the server pid' });
  const pid = Number(printed.trim());
  try {
    await waitFor(async () => (await health()) === 200, { timeoutMs: 30_000, what: 'the detached server to serve' });
    shell.stdin.end('go\n');
    await once(shell, 'exit');
    // Past a few of its parent checks (one a second), it still serves.
    const until = Date.now() + 3_000;
    await waitFor(async () => Date.now() > until && (await health()) === 200, { timeoutMs: 10_000, intervalMs: 200, what: 'the server to keep serving' });
    expect(running(pid)).toBe(true);
  } finally {
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !running(pid), { timeoutMs: 15_000, what: 'the server to stop' });
  }
});
