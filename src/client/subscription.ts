/**
 * One subscription of the client, as it lives across connections: what was
 * asked, where to resume, and which change ids were already handed to the
 * handler, so a resumed feed never shows a change twice.
 */
import type { ChangeEvent as WireChangeEvent, Filter, Op, Row, SubscribeMessage } from '../protocol.js';

/**
 * The change event of CONTRACT §3 with `row` and `old` typed as the table's row.
 * Unlike the protocol's, `R` may be an interface (what `rowcast types` generates).
 */
export type ChangeEvent<R = Row> = Omit<WireChangeEvent, 'row' | 'old'> & { row: R; old: R | null };

/** Column filters in the grammar of CONTRACT §4 (`eq.v`, `gt.v`, `in.(a,b)`, `is.null`…), keyed by the row's columns. */
export type ColumnFilter<R> = { [K in keyof R & string]?: string };

export interface SubscribeOptions<R> {
  ops?: readonly Op[];
  filter?: ColumnFilter<R>;
  /** Start right after this cursor (a change's `id`) instead of from now. */
  since?: string;
  /** Called each time the server has set the subscription up: first, and again after every reconnect. */
  onSubscribed?: () => void;
}

/** How many recent change ids each subscription remembers to drop duplicates. */
const SEEN_IDS_KEPT = 4096;

export class ClientSubscription {
  /** Where to resume: the last change's id or the server's newer `cursor`, else where it started us. */
  private resumeCursor: string | null;
  private readonly seenIds = new Set<string>();
  /** On the current connection: not asked yet, asked, or confirmed by the server. */
  status: 'idle' | 'requested' | 'active' = 'idle';
  /** Set by unsubscribe(); no change reaches the handler afterwards. */
  cancelled = false;

  constructor(
    readonly id: string,
    readonly table: string,
    private readonly options: SubscribeOptions<Row>,
    private readonly handler: (change: ChangeEvent) => void,
  ) {
    this.resumeCursor = options.since ?? null;
  }

  /** The subscribe frame for the current connection: resumes from the cursor when there is one. */
  request(): SubscribeMessage {
    this.status = 'requested';
    const { ops, filter } = this.options;
    return {
      type: 'subscribe',
      id: this.id,
      table: this.table,
      ...(ops ? { ops: [...ops] } : {}),
      ...(filter && Object.keys(filter).length > 0 ? { filter: filter as Filter } : {}),
      ...(this.resumeCursor === null ? {} : { since: this.resumeCursor }),
    };
  }

  /** The server's `subscribed`: its cursor is where a first subscription "from now" started. */
  confirm(cursor: string): void {
    this.status = 'active';
    this.resumeCursor ??= cursor;
    if (!this.cancelled) this.options.onSubscribed?.();
  }

  /** The server's `cursor`: it passed every change after the last one, so resume there. */
  advance(cursor: string): void {
    if (this.status === 'active') this.resumeCursor = cursor;
  }

  /** A connection ended: the next one must subscribe again. */
  disconnect(): void {
    this.status = 'idle';
  }

  /** Hands a change to the handler unless it was already handed over. */
  deliver(change: ChangeEvent): void {
    if (this.cancelled || this.seenIds.has(change.id)) return;
    this.seenIds.add(change.id);
    if (this.seenIds.size > SEEN_IDS_KEPT) {
      // Sets iterate in insertion order: the first is the oldest.
      const oldest = this.seenIds.values().next().value;
      if (oldest !== undefined) this.seenIds.delete(oldest);
    }
    this.resumeCursor = change.id;
    this.handler(change);
  }
}
