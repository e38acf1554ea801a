/**
 * W3 (many idle WebSocket connections) and idle CPU: what the server costs
 * while nothing is written.
 */
import type { Pool } from 'pg';
import { Fleet } from '../lib/fleet.js';
import { singleInsert } from '../lib/postgres.js';
import { sleep, threadCpuMs } from '../lib/processes.js';
import type { RowcastProcess } from '../lib/server.js';

/** Long enough for sockets' first buffers and the heap to settle before RSS is read. */
const SETTLE_MS = 3000;

/**
 * The lowest RSS seen over `ms`: a single reading lands anywhere in the
 * garbage collector's cycle (several MB on 10,000 connections, seen as
 * 12-18 KiB per connection between runs); the low point is after a collection.
 */
async function settledRssKiB(server: RowcastProcess, ms: number): Promise<number> {
  let low = server.rssKiB();
  for (let waited = 0; waited < ms; waited += 250) {
    await sleep(250);
    low = Math.min(low, server.rssKiB());
  }
  return low;
}

export interface IdleConnectionsResult {
  connections: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  kibPerConnection: number;
  openAllMs: number;
  oneChangeToAllMs: number;
  received: number;
  cpuWhileIdleMs: number;
}

/** W3: `n` subscribed WebSocket connections, opened from `processes` client processes, then one change. */
export async function idleConnections(server: RowcastProcess, pool: Pool, n: number, processes: number): Promise<IdleConnectionsResult> {
  const rssBeforeKiB = await settledRssKiB(server, SETTLE_MS);
  const fleet = await Fleet.start({ mode: 'ws', url: server.url, count: n, table: 'orders', concurrency: 100, latency: true }, processes);
  try {
    // From the start signal to the last subscription confirmed, without the client processes' own start-up.
    const openAllMs = fleet.openMs;
    const cpu0 = server.cpuMs();
    const rssAfterKiB = await settledRssKiB(server, 2 * SETTLE_MS);
    const cpuWhileIdleMs = server.cpuMs() - cpu0;
    await pool.query(singleInsert('orders'), ['W3-1']);
    await fleet.waitForMin(1, 10_000);
    const report = await fleet.report(1);
    return {
      connections: n,
      rssBeforeKiB,
      rssAfterKiB,
      kibPerConnection: (rssAfterKiB - rssBeforeKiB) / n,
      openAllMs,
      oneChangeToAllMs: report.latency.max,
      received: report.total,
      cpuWhileIdleMs,
    };
  } finally {
    await fleet.close();
  }
}

/** Server CPU time over `ms` of no writes and no clients. */
export async function idleCpu(server: RowcastProcess, ms: number): Promise<{ settleMs: number; cpuMs: number; windowMs: number; percentOfCore: number; byThread: Record<string, number> }> {
  // The feed may still be reading what the last workload wrote: wait (bounded) until it is quiet.
  const settleStart = performance.now();
  for (let i = 0, last = server.cpuMs(); i < 60; i++) {
    await sleep(500);
    const now = server.cpuMs();
    if (now - last <= 10) break;
    last = now;
  }
  const settleMs = performance.now() - settleStart;
  const cpu0 = server.cpuMs();
  // By thread: JavaScript runs on the main thread; GC and I/O helpers have their own.
  const threads0 = threadCpuMs(server.pid);
  const t0 = performance.now();
  await sleep(ms);
  const cpuMs = server.cpuMs() - cpu0;
  const byThread: Record<string, number> = {};
  for (const [name, t] of threadCpuMs(server.pid)) if (t - (threads0.get(name) ?? 0) > 0) byThread[name] = t - (threads0.get(name) ?? 0);
  const windowMs = performance.now() - t0;
  return { settleMs, cpuMs, windowMs, percentOfCore: (100 * cpuMs) / windowMs, byThread };
}
