/**
 * Child processes of the bench: forking our TypeScript scripts (through tsx),
 * waiting for their IPC messages with a deadline, stopping them, and reading
 * a process's memory and CPU time from /proc.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = join(BENCH_DIR, '..');

/** Forks bench/<script> under tsx with an IPC channel; its output goes to ours. */
export function forkScript(script: string): ChildProcess {
  return fork(join(BENCH_DIR, script), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** The next message from `child` that `match` accepts, or an error after `timeoutMs` or if it exits. */
export function nextMessage<T>(child: ChildProcess, match: (m: any) => m is T, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = (fn: () => void) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      fn();
    };
    const onMessage = (m: unknown) => {
      if (match(m)) done(() => resolve(m));
    };
    const onExit = (code: number | null) => done(() => reject(new Error(`${what}: the process exited (code ${code})`)));
    const timer = setTimeout(() => done(() => reject(new Error(`${what}: no answer within ${timeoutMs} ms`))), timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

// One definition of "a free port" for tests and bench.
export { freePort } from '../../test/support/ports.js';

/** Resident memory of a process, in KiB (VmRSS of /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** Clock ticks per second of /proc/<pid>/stat (sysconf CLK_TCK: 100 on Linux). */
const CLK_TCK = 100;

/** CPU time (user + system) a process has used, in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLK_TCK;
}

/**
 * CPU ms of a process by thread: "main" (where JavaScript runs) apart from
 * the rest by name ("libuv-worker", …; V8's helper threads that run GC keep
 * the name "node").
 */
export function threadCpuMs(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byName.set(name, (byName.get(name) ?? 0) + ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK);
    } catch {
      // The thread ended while we listed it.
    }
  }
  return byName;
}

/**
 * CPU time used since boot by the whole machine and by this process with all
 * its descendants (PostgreSQL, the server, clients, pgbench), in ms. Other
 * work on a shared machine skews every figure, so each phase reports it.
 */
export function cpuSnapshot(): { machineMs: number; oursMs: number } {
  const [, user, nice, system, , , irq, softirq, steal] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').split(/\s+/).map(Number);
  const machineMs = (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1000) / CLK_TCK;
  const parent = new Map<number, number>();
  const used = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
      parent.set(Number(entry), f[1] ?? 0);
      // Own time plus that of children already reaped, which otherwise would vanish.
      used.set(Number(entry), (f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0));
    } catch {
      // The process ended while we listed it.
    }
  }
  let ticks = 0;
  for (const [pid, t] of used) {
    let at: number | undefined = pid;
    for (let depth = 0; at && at !== process.pid && depth < 64; depth++) at = parent.get(at);
    if (at === process.pid) ticks += t;
  }
  return { machineMs, oursMs: (ticks * 1000) / CLK_TCK };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
