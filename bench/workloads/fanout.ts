/**
 * W1 and W2: changes committed by a writer, received by subscribers in other
 * processes. Latency is receive time minus the change's committed_at
 * (PostgreSQL's commit timestamp, truncated to the millisecond, so each
 * figure overstates by 0.5 ms on average).
 */
import type { Pool } from 'pg';
import { Fleet, type FleetReport } from '../lib/fleet.js';
import type { SubscriberSpec } from '../lib/messages.js';
import { paced } from '../lib/pacing.js';
import { singleInsert } from '../lib/postgres.js';
import type { RowcastProcess } from '../lib/server.js';

export interface LatencyResult {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  samples: number;
}

export interface FanoutResult {
  transport: 'ws' | 'sse';
  subscribers: number;
  statements: number;
  deliveriesPerSec: number;
  rowsPerSec: number;
  losses: number;
  extras: number;
  drained: boolean;
  openMs: number;
  closes: Record<string, number>;
  latency: LatencyResult;
}

function latencyOf(report: FleetReport): LatencyResult {
  const s = report.latency.summary();
  return { p50: s.p50, p90: s.p90, p99: s.p99, max: s.max, samples: s.n };
}

/** W1: `rate` single-row transactions/s on a schedule (not back to back), `subscribers` WebSocket subscribers. */
export async function latencyRun(server: RowcastProcess, pool: Pool, o: { subscribers: number; rate: number; durationMs: number }): Promise<LatencyResult & { losses: number; writtenPerSec: number }> {
  const fleet = await Fleet.start({ mode: 'ws', url: server.url, count: o.subscribers, table: 'orders', concurrency: 10, latency: true }, 1);
  const client = await pool.connect();
  try {
    const total = Math.round((o.rate * o.durationMs) / 1000);
    const t0 = performance.now();
    for (let k = 0; k < total; k++) {
      // A late insert does not push the schedule back: the next one is due at its own time.
      const wait = t0 + (k * 1000) / o.rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await client.query(singleInsert('orders'), [`W1-${k}`]);
    }
    // The rate the one writer kept, which falls short of o.rate when its commits are slower.
    const writtenPerSec = (total * 1000) / (performance.now() - t0);
    await fleet.waitForMin(total, 10_000);
    const report = await fleet.report(total);
    return { ...latencyOf(report), losses: report.losses, writtenPerSec };
  } finally {
    client.release();
    await fleet.close();
  }
}

export interface FanoutOptions {
  transport: 'ws' | 'sse';
  subscribers: number;
  table: string;
  /** The statement the writer repeats, the rows it writes, and how many of them each subscriber receives. */
  statement: string;
  statementRows: number;
  perStatement: number;
  tokens?: string[];
  filters?: Array<Record<string, string>>;
  durationMs: number;
}

/** W2: statements as fast as the slowest subscriber receives them, for `durationMs`. */
export async function fanoutRun(server: RowcastProcess, pool: Pool, o: FanoutOptions): Promise<FanoutResult> {
  const spec: SubscriberSpec = {
    mode: o.transport,
    url: server.url,
    count: o.subscribers,
    table: o.table,
    concurrency: 50,
    latency: true,
    ...(o.tokens ? { tokens: o.tokens } : {}),
    ...(o.filters ? { filters: o.filters } : {}),
  };
  const fleet = await Fleet.start(spec, 2);
  try {
    const run = await paced({
      fleet,
      perStatement: o.perStatement,
      durationMs: o.durationMs,
      maxStatements: 10_000,
      stallMs: 60_000,
      issue: async () => void (await pool.query(o.statement)),
    });
    const report = await fleet.report(run.statements * o.perStatement);
    const seconds = run.elapsedMs / 1000;
    return {
      transport: o.transport,
      subscribers: o.subscribers,
      statements: run.statements,
      deliveriesPerSec: report.total / seconds,
      rowsPerSec: (run.statements * o.statementRows) / seconds,
      losses: report.losses,
      extras: report.extras,
      drained: run.drained,
      openMs: fleet.openMs,
      closes: report.closes,
      latency: latencyOf(report),
    };
  } finally {
    await fleet.close();
  }
}
