/**
 * Controls: what the same machine does without Rowcast in the way, measured
 * in the same run as the figures they are compared with.
 *  - a plain `ws` server broadcasting one pre-serialized change frame, one
 *    write per frame as a naive broadcaster does, and corked per batch;
 *  - a LISTEN connection receiving one NOTIFY per row (the naive change feed);
 *  - INSERT throughput into `orders_plain`, a copy of `orders` without triggers.
 */
import pg from 'pg';
import type { Pool } from 'pg';
import { Fleet } from '../lib/fleet.js';
import { paced } from '../lib/pacing.js';
import { bulkInsert, singleInsert } from '../lib/postgres.js';
import { forkScript, nextMessage, stopChild } from '../lib/processes.js';
import type { Sample } from '../lib/rounds.js';

const STATEMENT_ROWS = 1000;

/** A real change frame of `orders`, as Rowcast would send it to subscription "s". */
export async function changeSizedFrame(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ row: string }>(
    `with o as (${singleInsert('orders_plain')} returning *) select to_jsonb(o)::text as row from o`,
    ['ORD-1'],
  );
  const row = rows[0]?.row ?? '{}';
  return `{"type":"change","sub":"s","id":"2s_1kg","table":"orders","schema":"public","op":"INSERT","row":${row},"old":null,"committed_at":"${new Date().toISOString()}"}`;
}

export interface BroadcastResult {
  corked: boolean;
  subscribers: number;
  deliveriesPerSec: number;
  losses: number;
  drained: boolean;
}

/** Deliveries/s of the raw broadcast to `n` clients, paced like W2. */
export async function broadcastControl(n: number, frame: string, durationMs: number, corked: boolean): Promise<BroadcastResult> {
  const server = forkScript('clients/broadcast-server.ts');
  try {
    const { port } = await nextMessage(server, (m: any): m is { port: number } => m?.type === 'listening', 30_000, 'broadcast server');
    server.send({ type: 'start', frame, corked });
    const fleet = await Fleet.start({ mode: 'raw', url: `http://127.0.0.1:${port}`, count: n, table: '', concurrency: 100, latency: false }, 2);
    try {
      const run = await paced({
        fleet,
        perStatement: STATEMENT_ROWS,
        durationMs,
        maxStatements: 10_000,
        stallMs: 60_000,
        issue: async () => void server.send({ type: 'batch', frames: STATEMENT_ROWS }),
      });
      const report = await fleet.report(run.statements * STATEMENT_ROWS);
      return { corked, subscribers: n, deliveriesPerSec: report.total / (run.elapsedMs / 1000), losses: report.losses, drained: run.drained };
    } finally {
      await fleet.close();
    }
  } finally {
    await stopChild(server);
  }
}

/** Notifications/s one LISTEN connection receives from 1000-row statements with a per-row NOTIFY trigger. */
export async function notifyControl(url: string, durationMs: number): Promise<{ notificationsPerSec: number; received: number; sent: number }> {
  const listener = new pg.Client({ connectionString: url });
  const writer = new pg.Client({ connectionString: url });
  await Promise.all([listener.connect(), writer.connect()]);
  try {
    let received = 0;
    let lastAt = 0;
    listener.on('notification', () => {
      received += 1;
      lastAt = performance.now();
    });
    await listener.query('listen bench_rows');
    const t0 = performance.now();
    let sent = 0;
    // Bounded: the notification queue is never allowed to run far ahead of the listener.
    while (performance.now() - t0 < durationMs && sent < 1_000_000) {
      if (sent - received > 20 * STATEMENT_ROWS) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      await writer.query(bulkInsert('orders_notify', STATEMENT_ROWS));
      sent += STATEMENT_ROWS;
    }
    for (let waited = 0; received < sent && waited < 10_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    return { notificationsPerSec: received > 0 ? received / ((lastAt - t0) / 1000) : 0, received, sent };
  } finally {
    await Promise.all([listener.end(), writer.end()]);
  }
}

/** Rows one connection inserts into `table` in `durationMs`: 1000-row statements (bulk) or single-row autocommits. */
export async function insertRows(pool: Pool, table: string, kind: 'bulk' | 'single', durationMs: number): Promise<Sample> {
  const client = await pool.connect();
  try {
    const text = kind === 'bulk' ? bulkInsert(table, STATEMENT_ROWS) : singleInsert(table);
    const t0 = performance.now();
    let statements = 0;
    while (performance.now() - t0 < durationMs && statements < 1_000_000) {
      await (kind === 'bulk' ? client.query(text) : client.query(text, [`ORD-${statements}`]));
      statements += 1;
    }
    return { units: statements * (kind === 'bulk' ? STATEMENT_ROWS : 1), seconds: (performance.now() - t0) / 1000 };
  } finally {
    client.release();
  }
}
