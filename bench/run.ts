/**
 * `npm run bench`: Rowcast measured from outside, on this machine, each
 * figure next to a control measured in the same run. Its own embedded
 * PostgreSQL (temp dir, free port), Rowcast as a separate process, clients
 * in processes of their own. Prints a table and writes
 * bench/results/latest.json.
 *
 *   npm run bench -- --only=w2,owner   run some phases (controls,w3,w4,idle,w1,w2,owner,w5)
 *   npm run bench -- --profile         CPU-profile every server process and print its top frames
 *   npm run bench -- --server=<dir>    run the Rowcast of another checkout (to measure a change)
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  captureCostPhase,
  controlsPhase,
  fanoutPhase,
  idleConnectionsPhase,
  idleCpuPhase,
  JWT_SECRET,
  latencyPhase,
  ownerRulePhase,
  SECONDS,
  writersPhase,
  type BenchContext,
} from './phases.js';
import { createControlTables, openPool, startPostgres } from './lib/postgres.js';
import { BENCH_DIR, cpuSnapshot, ROOT } from './lib/processes.js';
import { Report } from './lib/report.js';
import { startServer, type ServerOptions } from './lib/server.js';
import { summarizeProfile } from './profile-top.js';

const PHASES = ['controls', 'w3', 'w4', 'idle', 'w1', 'w2', 'owner', 'w5'] as const;
type Phase = (typeof PHASES)[number];

const { values } = parseArgs({ options: { only: { type: 'string' }, profile: { type: 'boolean', default: false }, server: { type: 'string' } } });
const only = new Set((values.only ?? PHASES.join(',')).split(',').map((p) => p.trim()));
for (const p of only) if (!PHASES.includes(p as Phase)) throw new Error(`unknown phase ${p}; phases: ${PHASES.join(', ')}`);
const selected = (p: Phase) => only.has(p);
const profileDir = values.profile ? join(BENCH_DIR, 'results', 'profiles', new Date().toISOString().replace(/[:.]/g, '-')) : undefined;

/** Which code the figures are of: others commit to this repository while the bench runs. */
function codeVersion(dir: string): string {
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();
    const code = ['src', 'sql', 'triggers', 'bin'];
    // The last commit that touched the server's code: README-only commits do not count.
    const commit = git('log', '-1', '--format=%h', '--', ...code);
    return `${commit}${git('status', '--porcelain', '--', ...code) ? ' + uncommitted changes' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}
const serverRoot = values.server ? resolve(values.server) : ROOT;
const versionAtStart = codeVersion(serverRoot);

const started = Date.now();
const log = (text: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${text}\n`);

const report = new Report();
const pg = await startPostgres();
log(`PostgreSQL on port ${pg.port}`);
const pool = openPool(pg.url);
const serverOptions = (o: Omit<ServerOptions, 'databaseUrl' | 'profileDir' | 'serverRoot'>): ServerOptions => ({
  ...o,
  databaseUrl: pg.url,
  ...(profileDir ? { profileDir } : {}),
  ...(values.server ? { serverRoot } : {}),
});
const server = await startServer(serverOptions({ wakeup: 'debounced' })).catch(async (error: unknown) => {
  await pool.end();
  await pg.stop();
  throw error;
});
const ctx: BenchContext = {
  pg,
  pool,
  report,
  server,
  async restart(o) {
    await ctx.server.stop();
    ctx.server = await startServer(serverOptions(o));
    log(`server restarted (${ctx.server.label})`);
    return ctx.server;
  },
  controls: { broadcast: new Map(), notifyPerSec: NaN, pgbench: new Map() },
};
log(`Rowcast at ${ctx.server.url} (${ctx.server.label})`);

const loads: Array<{ phase: string; benchCpuPercent: number; otherCpuPercent: number }> = [];

/** A phase that fails is reported and the others still run. */
async function phase(name: Phase, what: string, fn: () => Promise<void>): Promise<void> {
  if (!selected(name)) return;
  log(`${name}: ${what}`);
  const before = cpuSnapshot();
  const t0 = Date.now();
  try {
    await fn();
  } catch (error) {
    const message = `${name} failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`;
    report.problems.push(message);
    log(message);
  }
  const after = cpuSnapshot();
  const capacityMs = (Date.now() - t0) * cpus().length;
  const foreignMs = after.machineMs - before.machineMs - (after.oursMs - before.oursMs);
  const load = { phase: `${name}: ${what}`, benchCpuPercent: (100 * (after.oursMs - before.oursMs)) / capacityMs, otherCpuPercent: Math.max(0, (100 * foreignMs) / capacityMs) };
  loads.push(load);
  log(`${name}: the bench used ${load.benchCpuPercent.toFixed(0)} % of the machine's CPU, other processes ${load.otherCpuPercent.toFixed(0)} %`);
}

try {
  await createControlTables(pool);
  await phase('controls', 'LISTEN/NOTIFY control', () => controlsPhase(ctx));
  // W3 first on a fresh server, so its RSS growth is the connections' and not earlier workloads'.
  await phase('w3', '10,000 idle WebSocket connections', () => idleConnectionsPhase(ctx));
  await phase('w4', 'capture cost vs plain inserts', () => captureCostPhase(ctx));
  await phase('idle', 'idle CPU', () => idleCpuPhase(ctx));
  await phase('w1', 'latency', () => latencyPhase(ctx, 'debounced'));
  await phase('w2', 'fan-out, WebSocket and SSE', () => fanoutPhase(ctx));
  if (selected('owner') || selected('w5')) await ctx.restart({ wakeup: 'debounced', jwtSecret: JWT_SECRET });
  await phase('owner', 'fan-out with the owner rule', () => ownerRulePhase(ctx));
  await phase('w5', 'pgbench writers, debounced wake-ups', () => writersPhase(ctx, 'debounced'));
  if (selected('w5') || selected('w1')) await ctx.restart({ wakeup: 'always' });
  await phase('w5', 'pgbench writers, a NOTIFY per transaction', () => writersPhase(ctx, 'always'));
  await phase('w1', 'latency, a NOTIFY per transaction', () => latencyPhase(ctx, 'always'));
} finally {
  await ctx.server.stop();
  await pool.end();
  await pg.stop();
}

const table = report.table();
const versionAtEnd = codeVersion(serverRoot);
const elapsedS = (Date.now() - started) / 1000;
const out = join(BENCH_DIR, 'results', 'latest.json');
report.write(out, {
  finishedAt: new Date().toISOString(),
  server: { root: serverRoot, codeAtStart: versionAtStart, codeAtEnd: versionAtEnd },
  elapsedSeconds: elapsedS,
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
  seconds: SECONDS,
  phases: [...only],
  machineLoad: loads,
});
process.stdout.write(`\n${table}\n\n`);
const busy = loads.filter((l) => l.otherCpuPercent >= 10);
if (busy.length) {
  const list = busy.map((l) => `${l.phase} ${l.otherCpuPercent.toFixed(0)} %`).join(', ');
  process.stdout.write(`Other processes took a share of this machine's CPU during: ${list}. Figures of those phases are skewed.\n`);
}
for (const problem of report.problems) process.stdout.write(`PROBLEM: ${problem}\n`);
process.stdout.write(`Rowcast measured: ${serverRoot} at ${versionAtStart}${versionAtEnd === versionAtStart ? '' : `, changed to ${versionAtEnd} during the run`}\n`);
process.stdout.write(`${elapsedS.toFixed(0)} s; results in ${out}\n`);
if (profileDir) {
  for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))) {
    const summary = summarizeProfile(join(profileDir, file));
    // Each thread writes a profile; tsx's loader thread sits idle and says nothing.
    if (summary.busyMs >= 1000) process.stdout.write(`\n${summary.text}\n`);
  }
}
