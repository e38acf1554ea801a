/**
 * Subscription: one client's interest in one table (ops, filter, read grant)
 * and its position in the feed. A subscription starts by replaying the
 * backlog after its cursor while live changes queue up behind it, then goes
 * live; `after` only moves forward, so the switch has no gap and no duplicate.
 */
import type { ChangeLogReader } from '../capture/change-log.js';
import type { Change } from '../capture/change.js';
import { compareCursors, transactionsThrough, type Cursor } from '../capture/cursor.js';
import { asRowcastError, RowcastError } from '../errors.js';
import type { Filter } from '../protocol.js';
import type { ReadGrant } from './authorization.js';
import type { ChangeMatcher, Ownership } from './change-matcher.js';
import type { RowPredicate } from './subscription-filter.js';
import type { ExposedTable } from './table-catalog.js';

export interface SubscriptionSink {
  /** Writes one change to the client. */
  deliver(change: Change, subscription: Subscription): void;
  /**
   * Null when the client can take more now; else resolves once it has read
   * enough. Backlog replay waits on it, so a client catching up at full speed
   * is paced instead of dropped as a slow consumer.
   */
  whenWritable(): Promise<void> | null;
  /** The server ended the subscription (table unexposed, rule changed, backlog failed). */
  ended(subscription: Subscription, error: RowcastError): void;
  /** Tells the client it may resume from `cursor` (a cursor frame): nothing before it is left for this subscription. */
  tell(cursor: Cursor, subscription: Subscription): void;
}

export interface SubscriptionSpec {
  id: string;
  table: ExposedTable;
  /** The filter as the client asked for it; compiled into `matcher`. */
  filter: Filter | undefined;
  matcher: ChangeMatcher;
  sink: SubscriptionSink;
  /** Deliver only changes after this cursor. */
  after: Cursor;
  /** Changes up to here must come from the log; later ones arrive live. */
  backlogUpTo: Cursor;
}

/** Live changes queued during the backlog replay beyond this many end the subscription as too slow. */
const MAX_PENDING = 100_000;

export class Subscription {
  readonly id: string;
  readonly table: ExposedTable;
  readonly sink: SubscriptionSink;
  readonly filter: Filter | undefined;
  private matcher: ChangeMatcher;
  private readonly backlogUpTo: Cursor;
  /** Cursor of the last change delivered or skipped as already seen. */
  private after: Cursor;
  /** The newest cursor the client holds: where it started, its last change's id, or cursorNews. */
  private told: Cursor;
  /** Non-null until the backlog has been replayed. */
  private pending: Change[] | null = [];
  private closed = false;

  constructor(spec: SubscriptionSpec) {
    this.id = spec.id;
    this.table = spec.table;
    this.sink = spec.sink;
    this.filter = spec.filter;
    this.matcher = spec.matcher;
    this.after = spec.after;
    this.told = spec.after;
    this.backlogUpTo = spec.backlogUpTo;
  }

  get cursor(): Cursor {
    return this.after;
  }

  /**
   * A cursor to hand the client when it is newer than what it holds (its last
   * change's id, or the last cursor handed over), else null. Once live, every
   * change the feed published through `published` has been offered to this
   * subscription, so it may resume there: a quiet table's subscriber keeps a
   * cursor inside retention, and resumes without reading what it skipped.
   */
  cursorNews(published: Cursor): Cursor | null {
    if (this.pending !== null || this.closed || transactionsThrough(published) <= transactionsThrough(this.told)) return null;
    this.told = published;
    return published;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get grant(): ReadGrant {
    return this.matcher.grant;
  }

  /** For an owner grant: the key of the rows this subscription's sub owns, and how rows are keyed. */
  get ownership(): Ownership | null {
    return this.matcher.ownership;
  }

  /** The filter compiled again, for the table's columns as they are now. */
  refilter(filter: RowPredicate | null): void {
    this.matcher = this.matcher.withFilter(filter);
  }

  /** A live change from the hub. */
  offer(change: Change): void {
    if (this.closed || compareCursors(change.cursor, this.after) <= 0) return;
    const view = this.matcher.admit(change);
    if (!view) return;
    if (this.pending) {
      this.pending.push(view);
      if (this.pending.length > MAX_PENDING) {
        this.end(new RowcastError('rate_limited', 'too many changes arrived while the backlog was replayed; resume from your cursor'));
      }
      return;
    }
    this.send(view);
  }

  private send(change: Change): void {
    this.after = change.cursor;
    this.told = change.cursor;
    this.sink.deliver(change, this);
  }

  /**
   * Replays the log from `after` up to the hub's position at subscribe time
   * (first page already read by the hub), then the queued live changes.
   */
  async replay(reader: ChangeLogReader, firstPage: Change[], pageSize: number): Promise<void> {
    try {
      let page = firstPage;
      for (;;) {
        for (const change of page) {
          const view = compareCursors(change.cursor, this.after) > 0 ? this.matcher.admit(change) : null;
          if (view && !(await this.sendPaced(view))) return;
        }
        const last = page.at(-1);
        if (page.length < pageSize || !last) break;
        // A filter that passed over the whole page: without a cursor past it, a client that
        // reconnects before the next match would read this page again, and could never get further.
        if (compareCursors(last.cursor, this.told) > 0) {
          this.told = last.cursor;
          this.sink.tell(last.cursor, this);
        }
        ({ changes: page } = await reader.readAfter(last.cursor, {
          limit: pageSize,
          table: { schema: this.table.info.schema, name: this.table.info.name },
          upTo: this.backlogUpTo,
        }));
      }
    } catch (error) {
      this.end(asRowcastError(error));
      return;
    }
    // Live changes keep queueing behind until the queue is empty, so order holds.
    const queued = this.pending ?? [];
    for (let i = 0; i < queued.length; i++) {
      const change = queued[i] as Change;
      if (compareCursors(change.cursor, this.after) > 0 && !(await this.sendPaced(change))) return;
    }
    this.pending = null;
  }

  /** Sends once the client can take it; false when the subscription ended meanwhile. */
  private async sendPaced(change: Change): Promise<boolean> {
    const wait = this.sink.whenWritable();
    if (wait) await wait;
    if (this.closed) return false;
    this.send(change);
    return true;
  }

  /** Ends it from the server side; the hub forgets it through the sink. */
  end(error: RowcastError): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = null;
    this.sink.ended(this, error);
  }

  /** Ends it at the client's request. */
  close(): void {
    this.closed = true;
    this.pending = null;
  }
}
