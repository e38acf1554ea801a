/**
 * Rowcast as a separate process (`node bin/rowcast.js serve`), as users run
 * it: the bench measures it from outside, through sockets and /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cpuMs, freePort, ROOT, rssKiB, sleep, stopChild } from './processes.js';

const HEALTH_TIMEOUT_MS = 60_000;

export interface ServerOptions {
  databaseUrl: string;
  wakeup: 'debounced' | 'always';
  jwtSecret?: string;
  /** Write a V8 CPU profile of the whole server run into this directory. */
  profileDir?: string;
  /** Another checkout of Rowcast to run instead of this one (to measure a change). */
  serverRoot?: string;
}

export interface RowcastProcess {
  readonly url: string;
  readonly pid: number;
  readonly label: string;
  rssKiB(): number;
  cpuMs(): number;
  stop(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RowcastProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    ROWCAST_WAKEUP: options.wakeup,
    ROWCAST_LOG_LEVEL: 'warn',
    // W3 holds 10,000 connections on top of whatever probes the bench makes.
    ROWCAST_MAX_CONNECTIONS: '12000',
  };
  if (options.jwtSecret) env.ROWCAST_JWT_SECRET = options.jwtSecret;
  else delete env.ROWCAST_JWT_SECRET;
  // Node 20 refuses --cpu-prof in NODE_OPTIONS, so it goes on the command line.
  const profile = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
  if (options.profileDir) mkdirSync(options.profileDir, { recursive: true });
  const root = options.serverRoot ?? ROOT;
  const child: ChildProcess = spawn(process.execPath, [...profile, join(root, 'bin', 'rowcast.js'), 'serve'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`rowcast exited during start (code ${child.exitCode}): ${output}`);
    const res = await fetch(`${url}/health`).catch(() => null);
    if (res?.status === 200) break;
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`rowcast was not healthy within ${HEALTH_TIMEOUT_MS} ms: ${output}`);
    }
    await sleep(100);
  }
  const pid = child.pid!;
  return {
    url,
    pid,
    label: `${options.wakeup}${options.jwtSecret ? ', JWT' : ', dev mode'}`,
    rssKiB: () => rssKiB(pid),
    cpuMs: () => cpuMs(pid),
    stop: async () => {
      await stopChild(child, 15_000);
      if (output.includes('"level":50') || output.includes('"level":60')) process.stderr.write(`rowcast logged errors:\n${output}\n`);
    },
  };
}
