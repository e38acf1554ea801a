/**
 * ChangeFeed: the one reader of the change log per server. A wake-up (NOTIFY,
 * LISTEN reconnect, fallback timer) sequences newly committed transactions
 * and reads everything after the feed's cursor, in pages, in commit order.
 * Wake-ups that arrive while reading coalesce into one more pass. When the
 * database is away it retries with backoff, keeping its cursor, so nothing
 * committed meanwhile is skipped.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Change } from './change.js';
import type { ChangeLogReader } from './change-log.js';
import { asRowcastError } from '../errors.js';
import { compareCursors, type Cursor } from './cursor.js';
import { backoffMs } from './listener.js';
import { SETTLE_PREFIX, type WakeupGate } from './wakeup-gate.js';

/**
 * Transactions a second above which a NOTIFY per transaction costs more than
 * reading the log in a loop: the feed then stays awake (writers skip their
 * NOTIFY)…
 */
const BUSY_RATE = 400;
/** …reads the log this often, so each pass places a batch instead of one… */
const AWAKE_POLL_MS = 10;
/**
 * …and half as often at this rate and above: a pass that places transactions
 * is one more synchronous commit, and at a single writer's full speed passes
 * every 10 ms cost it a tenth of its commits (measured, see README).
 */
const HEAVY_RATE = 2000;
const HEAVY_POLL_MS = 20;
/** …and this many passes in a row that were not busy send it back to sleep. */
const AWAKE_QUIET_PASSES = 3;
/** Longest pause between reads while waiting out writers before sleeping. */
const SETTLE_POLL_MAX_MS = 250;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface ChangeFeedEvents {
  changes: [changes: Change[]];
  /** The database answered (true) or failed (false). */
  health: [healthy: boolean];
  /** The feed's cursor fell out of the retained history (this server stalled past it): it goes on from the head, its subscribers must be told. */
  expired: [];
}

export interface ChangeFeedOptions {
  pageSize: number;
  /** The "schema.table" keys someone subscribes to: changes of other tables are sequenced, not read. */
  tables: () => ReadonlySet<string>;
  fallbackPollMs: number;
  retentionMs: number;
  pruneEveryMs: number;
}

export class ChangeFeed extends EventEmitter<ChangeFeedEvents> {
  /** Where the next pass starts; a table first subscribed during a pass is read up to here after it. */
  cursor: Cursor = { pos: 0, seq: 0 };
  /**
   * Every change up to here, of every table subscribed when it was read, has
   * been published (behind `cursor` while a newly subscribed table is read).
   */
  publishedThrough: Cursor = { pos: 0, seq: 0 };
  /** When the last pass of the wake-up loop started (performance.now()). */
  private lastPassAt = 0;
  /** Newly subscribed tables still to be read, in (after, upTo]. */
  private backfill: { after: Cursor; upTo: Cursor; tables: string[] } | null = null;
  /** The head the last pass saw. */
  private head: Cursor = { pos: 0, seq: 0 };
  healthy = false;
  /** Commit-to-publish delay of the last change published, in ms. */
  lagMs = 0;
  /** Changes read from the log and published. */
  changesRead = 0;
  /** Changes removed by retention. */
  changesPruned = 0;
  /** How often the feed reads while awake (ms); null while it waits for a wake-up. */
  paceMs: number | null = null;
  private running = false;
  private again = false;
  private stopped = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private pruning: Promise<void> | null = null;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly reader: ChangeLogReader,
    private readonly options: ChangeFeedOptions,
    private readonly log: Logger,
    /** Debounced wake-ups; null when every writer notifies (ROWCAST_WAKEUP=always). */
    private readonly gate: WakeupGate | null,
  ) {
    super();
  }

  /** Starts "from now": subscribers ask for older changes with a cursor. */
  async start(): Promise<void> {
    this.cursor = await this.reader.sequence();
    this.publishedThrough = this.cursor;
    this.head = this.cursor;
    this.setHealthy(true);
    this.pollTimer = setInterval(() => this.wake(), this.options.fallbackPollMs);
    this.pollTimer.unref();
    this.pruneTimer = setInterval(() => void this.prune(), this.options.pruneEveryMs);
    this.pruneTimer.unref();
  }

  /** `payload`: the wake-up's; a stopping instance's names writers to wait out (WakeupGate.adopt). */
  wake(payload = ''): void {
    if (this.stopped) return;
    if (this.gate && payload.startsWith(SETTLE_PREFIX)) this.gate.adopt(payload.slice(SETTLE_PREFIX.length));
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.idle = this.drain();
  }

  /**
   * Reads until there is nothing more to read. In debounced mode a busy feed
   * stays awake (writers skip their NOTIFY) and reads the log every few ms;
   * a quiet one is woken by each writer's NOTIFY. Before it sleeps it waits
   * out the writers that saw it awake, then reads once more (see WakeupGate).
   */
  private async drain(): Promise<void> {
    const gate = this.gate;
    let quietPasses = 0;
    let settleWaits = 0;
    try {
      for (;;) {
        this.again = false;
        const started = performance.now();
        const placed = await this.readToHead();
        if (this.stopped) break;
        if (gate) {
          // Over at least one awake period: two commits a few ms apart are not a busy feed.
          const rate = (placed * 1000) / Math.max(AWAKE_POLL_MS, started - this.lastPassAt);
          const busy = rate >= BUSY_RATE;
          this.lastPassAt = started;
          quietPasses = busy ? 0 : quietPasses + 1;
          if (busy || (gate.awake && quietPasses < AWAKE_QUIET_PASSES)) {
            settleWaits = 0;
            if (await gate.tryWake()) {
              this.paceMs = rate >= HEAVY_RATE ? HEAVY_POLL_MS : AWAKE_POLL_MS;
              await delay(this.paceMs);
              continue;
            }
          }
          if (gate.mustSettle) {
            this.paceMs = null;
            await gate.sleep();
            if (!(await gate.settled())) {
              await delay(Math.min(SETTLE_POLL_MAX_MS, AWAKE_POLL_MS * 2 ** settleWaits++));
              continue;
            }
            // Every writer that saw it awake has finished: its changes are readable now.
            if ((await this.readToHead()) > 0) continue;
          }
        }
        if (!this.again) break;
      }
      this.failures = 0;
      this.setHealthy(true);
    } catch (error) {
      await gate?.sleep().catch(() => {});
      if (asRowcastError(error).code === 'cursor_expired' && !this.stopped) await this.startOver().catch(() => {});
      this.setHealthy(false);
      this.log.warn({ err: error, attempt: this.failures }, 'reading the change log failed; retrying');
      this.failures += 1;
      if (!this.stopped && !this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.wake();
        }, backoffMs(this.failures));
      }
    } finally {
      this.paceMs = null;
      this.running = false;
    }
  }

  /**
   * Sequences newly committed transactions and publishes, up to the head, the
   * changes of the tables someone reads; returns how many transactions were
   * placed since the last pass. The pass itself usually brings the whole of
   * what it placed; further pages follow the cursor.
   */
  private async readToHead(): Promise<number> {
    await this.finishBackfill();
    const from = this.cursor;
    const wanted = this.options.tables();
    let head: Cursor;
    try {
      head = await this.readPages(from, [...wanted]);
    } finally {
      // A table first subscribed while this read was under way starts at `from`:
      // what it missed is read next (order within a table is all a subscriber
      // sees), also when the read failed part way, past some of it.
      const missing = [...this.options.tables()].filter((key) => !wanted.has(key));
      if (missing.length > 0) this.backfill = { after: from, upTo: this.cursor, tables: missing };
    }
    await this.finishBackfill();
    if (!this.stopped) this.publishedThrough = this.cursor;
    const placed = head.pos - this.head.pos;
    this.head = head;
    return placed;
  }

  /** One pass, then the pages after it up to its head, of `keys`; moves the cursor; returns the head. */
  private async readPages(from: Cursor, keys: string[]): Promise<Cursor> {
    const { pageSize } = this.options;
    const pass = await this.reader.advance(from, pageSize, keys);
    const head = pass.head;
    let changes = pass.changes;
    // Whether a page short of full means everything up to the head was read.
    let complete = pass.atHead || keys.length === 0;
    for (;;) {
      const last = changes.at(-1);
      if (last) this.publish(changes, last);
      if (last && changes.length === pageSize) this.cursor = last.cursor;
      else if (complete) this.cursor = head;
      if (this.stopped || compareCursors(this.cursor, head) >= 0) return head;
      ({ changes } = await this.reader.readAfter(this.cursor, { limit: pageSize, upTo: head, tables: keys }));
      complete = true;
    }
  }

  /**
   * Publishes what newly subscribed tables missed. The cursor is past it
   * already, so when the database fails meanwhile the rest waits here for the
   * next pass instead of being skipped.
   */
  private async finishBackfill(): Promise<void> {
    const backfill = this.backfill;
    const { pageSize } = this.options;
    while (backfill && !this.stopped && compareCursors(backfill.after, backfill.upTo) < 0) {
      const { changes } = await this.reader.readAfter(backfill.after, { limit: pageSize, upTo: backfill.upTo, tables: backfill.tables });
      const last = changes.at(-1);
      if (last) this.publish(changes, last);
      backfill.after = last && changes.length === pageSize ? last.cursor : backfill.upTo;
    }
    if (!this.stopped) this.backfill = null;
  }

  private publish(changes: Change[], last: Change): void {
    this.lagMs = Math.max(0, Date.now() - Date.parse(last.record.committedAt));
    this.changesRead += changes.length;
    this.emit('changes', changes);
  }

  /**
   * The cursor was pruned (this server stalled past the retention window):
   * going on from the head, its subscribers are told (`expired`), not left a gap.
   */
  private async startOver(): Promise<void> {
    const head = await this.reader.sequence();
    this.cursor = head;
    this.publishedThrough = head;
    this.head = head;
    this.backfill = null;
    this.log.warn({ head }, 'the change log was pruned past this server; its subscribers are told to resume');
    this.emit('expired');
  }

  /** Drops history past the retention window; several instances may prune at once. */
  async prune(): Promise<void> {
    if (this.pruning) return this.pruning;
    this.pruning = this.reader
      .prune(this.options.retentionMs)
      .then((n) => {
        this.changesPruned += n;
        if (n > 0) this.log.info({ changes: n }, 'pruned history past retention');
      })
      .catch((error: unknown) => this.log.warn({ err: error }, 'pruning failed'))
      .finally(() => {
        this.pruning = null;
      });
    return this.pruning;
  }

  private setHealthy(healthy: boolean): void {
    if (this.healthy === healthy) return;
    this.healthy = healthy;
    this.emit('health', healthy);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of [this.retryTimer, this.pollTimer, this.pruneTimer]) if (timer) clearTimeout(timer);
    await this.idle;
    await this.pruning;
    await this.gate?.handOver().catch((error: unknown) => this.log.warn({ err: error }, 'handing the wake-up over failed'));
    await this.gate?.close();
  }
}
