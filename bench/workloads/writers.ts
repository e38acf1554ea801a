/**
 * W5: writer concurrency with pgbench, each transaction one single-row
 * INSERT. With Rowcast's triggers vs the plain copy shows what capture costs
 * a busy database; ROWCAST_WAKEUP=always vs debounced shows the NOTIFY
 * commit lock (every notifying commit takes a database-wide lock).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { singleInsert } from '../lib/postgres.js';
import type { BenchPostgres } from '../lib/postgres.js';
import type { Sample } from '../lib/rounds.js';

const PGBENCH = '/usr/bin/pgbench';
/** The advisory lock an awake server holds (README, "No lost wake-up"); held by another session, writers skip NOTIFY and the server cannot wake. */
const AWAKE_LOCK = [1919905635, 1];

/**
 * Runs `measure` while a session of the bench holds the awake lock: writers
 * capture as with an awake server, but the server's passes are held off
 * (it reads only on its 5-second safety timer). What remains is the cost of
 * capture itself; the difference to the server running is its passes.
 */
export async function withServerHeldAsleep<T>(url: string, measure: () => Promise<T>): Promise<T> {
  const holder = new pg.Client({ connectionString: url, application_name: 'rowcast-bench-holder' });
  await holder.connect();
  try {
    // An awake server lets go once the writes of the last run are read.
    await holder.query(`set lock_timeout = '30s'`);
    await holder.query('select pg_advisory_lock($1, $2)', AWAKE_LOCK);
    return await measure();
  } finally {
    await holder.end();
  }
}

/** One pgbench run of `seconds` with `clients` connections inserting into `table`; units are transactions. */
export async function pgbench(pg: BenchPostgres, table: string, clients: number, seconds: number): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'rowcast-pgbench-'));
  try {
    const script = join(dir, 'insert.sql');
    writeFileSync(script, `${singleInsert(table).replace('$1', `'PGB-' || :client_id`)};\n`);
    const args = ['-n', '-M', 'prepared', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(Math.max(1, Math.round(seconds))), '-f', script];
    args.push('-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', 'postgres');
    const output = await run(args, { ...process.env, PGPASSWORD: pg.password }, (seconds + 30) * 1000);
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(output);
    const done = /number of transactions actually processed: (\d+)/.exec(output);
    if (!tps || !done) throw new Error(`pgbench printed no tps:\n${output}`);
    // tps leaves out connecting, so the time it stands for is transactions / tps.
    return { units: Number(done[1]), seconds: Number(done[1]) / Number(tps[1]) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PGBENCH, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d.toString()));
    child.stderr.on('data', (d) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`pgbench exited with ${code}:\n${output}`));
    });
  });
}
