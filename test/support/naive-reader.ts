/**
 * The cursor everyone writes first: "changes with seq above the last one I
 * saw, by seq", polled. seq is allocated at write time, so a transaction that
 * wrote first and commits last is skipped for good. The tests run it next to
 * Rowcast to prove their workload really commits out of write order.
 */
import type pg from 'pg';
import { onTestFinished } from 'vitest';
import type { Received } from './delivery-check.js';

export class NaiveReader {
  readonly received: Received[] = [];
  polls = 0;
  private last = 0;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly intervalMs = 20,
  ) {}

  async poll(): Promise<void> {
    const { rows } = await this.pool.query<{ seq: string; op: string; row: Record<string, unknown> }>(
      `select c.seq::text as seq, c.op, c."row" from rowcast.changes c
       where c.table_schema = 'public' and c.table_name = 'posts' and c.seq > $1 order by c.seq`,
      [this.last],
    );
    this.polls += 1;
    for (const r of rows) {
      this.received.push({ id: r.seq, op: r.op, row: r.row });
      this.last = Number(r.seq);
    }
  }

  /** Polls every intervalMs until stopped (bounded by maxPolls and maxMs). */
  start(maxPolls = 3000, maxMs = 60_000): this {
    const deadline = Date.now() + maxMs;
    onTestFinished(() => {
      this.stopped = true;
    });
    this.loop = (async () => {
      while (!this.stopped && this.polls < maxPolls && Date.now() < deadline) {
        await this.poll();
        await new Promise((r) => setTimeout(r, this.intervalMs));
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.poll();
  }
}
