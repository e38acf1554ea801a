/**
 * The embedded PostgreSQL of `npm start`, for a short-lived command such as
 * `rowcast expose`: connect to it when a server already runs it, else start
 * it for the command and stop it after.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RowcastError } from '../errors.js';
import { startEmbeddedPostgres, type EmbeddedOptions } from './embedded.js';

export interface EmbeddedAccess {
  /** Connection string of the `postgres` database. */
  readonly url: string;
  /** True when this command started PostgreSQL, so `release` stops it. */
  readonly started: boolean;
  release(): Promise<void>;
}

/** The postmaster's pid and port from its pid file, when that process is alive. */
function runningPostmaster(pgdata: string): { pid: number; port: number | null } | null {
  const pidFile = join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  // Line 1 is the pid, line 4 the port (PostgreSQL's pidfile.h).
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
  } catch {
    return null;
  }
  return { pid, port: Number.isInteger(port) && port > 0 ? port : null };
}

export async function accessEmbeddedPostgres(
  options: Pick<EmbeddedOptions, 'dataDir' | 'port'> & { create: boolean },
): Promise<EmbeddedAccess> {
  const dir = resolve(options.dataDir);
  const pgdata = join(dir, 'pgdata');
  const running = runningPostmaster(pgdata);
  if (running) {
    const passwordFile = join(dir, 'pg-password');
    if (!existsSync(passwordFile)) {
      throw new RowcastError('unavailable', `the embedded PostgreSQL in ${pgdata} runs (pid ${running.pid}) but ${passwordFile} is missing`);
    }
    const password = readFileSync(passwordFile, 'utf8').trim();
    const port = running.port ?? options.port;
    return {
      url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
      started: false,
      release: async () => {},
    };
  }
  if (!options.create && !existsSync(join(pgdata, 'PG_VERSION'))) {
    throw new RowcastError('unavailable', `there is no embedded database in ${pgdata} yet (npm start or rowcast migrate creates it)`);
  }
  const embedded = await startEmbeddedPostgres({ dataDir: options.dataDir, port: options.port });
  return { url: embedded.url, started: true, release: () => embedded.stop() };
}
