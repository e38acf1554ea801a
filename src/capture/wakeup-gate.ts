/**
 * WakeupGate: the "awake" flag that lets writers skip their NOTIFY while a
 * server is reading the log in a loop anyway (a NOTIFY serializes commits on
 * one database-wide lock, and so costs writers their group commit).
 *
 * Awake = this server holds advisory lock AWAKE exclusively, on a session of
 * its own; writers probe it with a non-blocking shared try (and let go at once). Every capturing
 * transaction also holds IN_FLIGHT shared until it ends. Before sleeping, the
 * server releases AWAKE and then waits until it can take IN_FLIGHT exclusively:
 * by then every writer that could have seen "awake" has committed or rolled
 * back, and one more read picks its changes up. A lost wake-up is impossible.
 * The lock keys must match triggers/capture.sql.
 */
import pg from 'pg';
import type { Pool } from 'pg';

const LOCK_CLASS = 1919905635;
const AWAKE = 1;
const IN_FLIGHT = 2;
const WAKE_WAIT_MS = 20;
const LOCK_NOT_AVAILABLE = '55P03';

export class WakeupGate {
  private session: pg.Client | null = null;
  awake = false;

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
    } catch (error) {
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
      this.awake = false;
    }
    return this.awake;
  }

  /** Writers notify again from here on. */
  async sleep(): Promise<void> {
    if (!this.awake) return;
    this.awake = false;
    await this.session?.query('select pg_advisory_unlock($1, $2)', [LOCK_CLASS, AWAKE]);
  }

  /** Whether no capturing transaction is in flight (a momentary exclusive try, never a wait). */
  async settled(): Promise<boolean> {
    const { rows } = await this.pool.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1, $2) as ok', [LOCK_CLASS, IN_FLIGHT]);
    return rows[0]?.ok === true;
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
