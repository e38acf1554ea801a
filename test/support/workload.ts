/**
 * A mixed write workload on `posts`: concurrent writers, each on a connection
 * of its own, running single-row and multi-row transactions, updates and
 * deletes of rows they committed before, transactions that sleep inside (so
 * commit order differs from write order), rollbacks and rolled-back
 * savepoints. Seeded, so a failure can be replayed.
 */
import type pg from 'pg';
import { Tx, type Ledger } from './writers.js';

/** mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface WorkloadOptions {
  writers: number;
  /** Stop starting transactions after this long. */
  durationMs: number;
  seed: number;
  /** Per-writer cap, so the loop is bounded in count as well as time. */
  maxTxPerWriter?: number;
  /** Sleeps inside transactions, in seconds at most. */
  maxSleep?: number;
  /** Also stop when this turns true (checked between transactions). */
  stop?: () => boolean;
  /** Label prefix, unique per workload sharing a ledger. */
  prefix?: string;
}

async function oneWriter(pool: pg.Pool, ledger: Ledger, name: string, seed: number, deadline: number, options: WorkloadOptions): Promise<void> {
  const rnd = prng(seed);
  const pick = (n: number) => Math.floor(rnd() * n);
  const maxSleep = options.maxSleep ?? 0.2;
  const client = await pool.connect();
  /** Rows this writer committed and has not deleted: only it touches them, so writers never block each other. */
  const alive: number[] = [];
  const take = (n: number) => alive.splice(pick(Math.max(1, alive.length - n + 1)), n);
  try {
    for (let i = 0; i < (options.maxTxPerWriter ?? 400) && Date.now() < deadline && !options.stop?.(); i++) {
      const label = `${name}-${i}`;
      const r = rnd();
      if (r < 0.25) {
        alive.push(...(await Tx.single(client, ledger, label, 1 + pick(2))));
        continue;
      }
      const tx = await Tx.begin(client, ledger, label);
      const inserted: number[] = [];
      let removed: number[] = [];
      if (r < 0.4) {
        inserted.push(...(await tx.insert(2 + pick(5))));
      } else if (r < 0.6) {
        inserted.push(...(await tx.insert(1)));
        await tx.sleep(rnd() * maxSleep);
        inserted.push(...(await tx.insert(2)));
        if (alive.length > 0) await tx.update([alive[pick(alive.length)] as number]);
      } else if (r < 0.72) {
        const touched = take(Math.min(alive.length, 1 + pick(3)));
        await tx.update(touched);
        if (rnd() < 0.5) await tx.sleep(rnd() * maxSleep);
        removed = touched.splice(0, 1);
        await tx.delete(removed);
        alive.push(...touched);
      } else if (r < 0.84) {
        await tx.insert(1 + pick(3));
        if (rnd() < 0.5) await tx.sleep(rnd() * maxSleep);
        await tx.rollback();
        continue;
      } else if (r < 0.92) {
        inserted.push(...(await tx.insert(1)));
        await tx.savepoint();
        await tx.insert(2);
        await tx.rollbackToSavepoint();
        inserted.push(...(await tx.insert(1)));
      } else {
        // Sleeps before its first write: it starts first and writes last.
        await tx.sleep(rnd() * maxSleep);
        inserted.push(...(await tx.insert(1)));
      }
      await tx.commit();
      alive.push(...inserted);
    }
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Runs the workload to its end; resolves when every writer has finished its last transaction. */
export async function runWorkload(pool: pg.Pool, ledger: Ledger, options: WorkloadOptions): Promise<void> {
  const deadline = Date.now() + options.durationMs;
  await Promise.all(
    Array.from({ length: options.writers }, (_, w) => oneWriter(pool, ledger, `${options.prefix ?? 'w'}${w}`, options.seed * 31 + w, deadline, options)),
  );
}
