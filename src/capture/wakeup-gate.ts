/**
 * WakeupGate: the "awake" flag that lets writers skip their NOTIFY while a
 * server is reading the log in a loop anyway (a NOTIFY serializes commits on
 * one database-wide lock, and so costs writers their group commit).
 *
 * Awake = this server holds advisory lock AWAKE exclusively, on a session of
 * its own; writers probe it with a non-blocking shared try (and let go at
 * once), after writing their change. Before sleeping, the server releases
 * AWAKE and takes a fresh transaction id: every writer that could have seen it
 * awake already had its own id, a smaller one. Once no transaction below that
 * bound is running, each of them has committed or rolled back, and one more
 * read picks its changes up. A lost wake-up is impossible, and writers pay
 * for nothing but the probe. The lock key must match triggers/capture.sql.
 */
import pg from 'pg';
import type { Pool } from 'pg';

const LOCK_CLASS = 1919905635;
const AWAKE = 1;
const WAKE_WAIT_MS = 20;
const LOCK_NOT_AVAILABLE = '55P03';
/** A wake-up's payload from a stopping instance: `settle:<xid>` (see handOver). */
export const SETTLE_PREFIX = 'settle:';

export class WakeupGate {
  private session: pg.Client | null = null;
  awake = false;
  /** Writers may have seen this server awake since it last settled. */
  private seenAwake = false;
  /** Transactions below this xid may have skipped their NOTIFY. */
  private settleBound: string | null = null;

  constructor(
    private readonly url: string,
    private readonly pool: Pool,
  ) {}

  /** Tries to become the awake server; false when a writer is probing or another instance is awake. */
  async tryWake(): Promise<boolean> {
    if (this.awake) return true;
    const session = await this.connect();
    try {
      // A waiting (not only a granted) exclusive request already makes writers'
      // shared probes fail, so the wait is short even among busy writers; it
      // fails after WAKE_WAIT_MS only when another instance is awake.
      await session.query('select pg_advisory_lock($1, $2)', [LOCK_CLASS, AWAKE]);
      this.awake = true;
      this.seenAwake = true;
    } catch (error) {
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
      this.awake = false;
    }
    return this.awake;
  }

  /** Awake now, or writers may still be finishing that saw it awake. */
  get mustSettle(): boolean {
    return this.awake || this.seenAwake || this.settleBound !== null;
  }

  /** Writers notify again from here on; settled() tells when the ones that did not have finished. */
  async sleep(): Promise<void> {
    if (this.awake) {
      this.awake = false;
      await this.session?.query('select pg_advisory_unlock($1, $2)', [LOCK_CLASS, AWAKE]);
    }
    // Also after losing the session: the lock went with it, the writers that saw it did not.
    if (!this.seenAwake) return;
    const { rows } = await this.pool.query<{ xid: string }>('select pg_current_xact_id()::text as xid');
    this.settleBound = rows[0]?.xid ?? null;
    this.seenAwake = false;
  }

  /** Whether every transaction that may have skipped its NOTIFY has ended (one snapshot, never a wait). */
  async settled(): Promise<boolean> {
    if (this.settleBound === null) return true;
    const { rows } = await this.pool.query<{ ok: boolean }>({
      name: 'rowcast_settled',
      text: 'select not exists (select from pg_snapshot_xip(pg_current_snapshot()) x where x < $1::xid8) as ok',
      values: [this.settleBound],
    });
    if (rows[0]?.ok !== true) return false;
    this.settleBound = null;
    return true;
  }

  /**
   * Another instance is stopping with writers still to wait out: this one
   * waits them out before it sleeps (its drain loop settles), so a rolling
   * restart loses no wake-up.
   */
  adopt(bound: string): void {
    if (this.settleBound === null || BigInt(bound) > BigInt(this.settleBound)) this.settleBound = bound;
  }

  /**
   * Stopping: writers that saw this server awake may still commit after its
   * last read, with no NOTIFY. Lets go of AWAKE and tells every instance
   * (a wake-up naming the bound, see adopt) to wait them out instead.
   */
  async handOver(): Promise<void> {
    if (this.awake) {
      this.awake = false;
      await this.session?.query('select pg_advisory_unlock($1, $2)', [LOCK_CLASS, AWAKE]);
    }
    if (!this.seenAwake && this.settleBound === null) return;
    // A fresh xid, taken after the lock was let go: above every writer that saw it.
    await this.pool.query(`select pg_notify('rowcast_wakeup', '${SETTLE_PREFIX}' || pg_current_xact_id()::text)`);
    this.seenAwake = false;
    this.settleBound = null;
  }

  private async connect(): Promise<pg.Client> {
    if (this.session) return this.session;
    const session = new pg.Client({ connectionString: this.url, application_name: 'rowcast-awake' });
    // Losing the session releases the lock: writers simply notify again.
    session.on('error', () => {
      this.awake = false;
      if (this.session === session) this.session = null;
    });
    await session.connect();
    await session.query(`set lock_timeout = '${WAKE_WAIT_MS}ms'`);
    this.session = session;
    return session;
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = null;
    this.awake = false;
    await session?.end().catch(() => {});
  }
}
