/**
 * Hub: every live subscription, indexed by table and, for owner-rule tables,
 * by owner, so a change is matched only against subscriptions that may see
 * it. Serialization happens once per change (see Change), not per subscriber.
 */
import type { ChangeLogReader } from '../capture/change-log.js';
import type { Change } from '../capture/change.js';
import { compareCursors, decodeCursor, type Cursor } from '../capture/cursor.js';
import { asRowcastError, RowcastError } from '../errors.js';
import { OPS, type Filter, type Op } from '../protocol.js';
import { readGrant, type Principal } from './authorization.js';
import { ChangeMatcher, type Ownership } from './change-matcher.js';
import { OwnerKeys } from './owner-keys.js';
import { RowValueMemo } from './column-values.js';
import { compileFilter } from './subscription-filter.js';
import { Subscription, type SubscriptionSink } from './subscription.js';
import type { ExposedTable, TableCatalog } from './table-catalog.js';

export interface MatchRequest {
  table: string;
  ops?: readonly Op[];
  filter?: Filter;
  principal: Principal;
}

export interface SubscribeRequest extends MatchRequest {
  id: string;
  since?: string;
  sink: SubscriptionSink;
}

/** Subscriptions of one table. */
interface TableIndex {
  all: Set<Subscription>;
  /** How rows are keyed by owner: the newest owner subscription's (older ones of another column type were ended). */
  owners: OwnerKeys | null;
  byOwner: Map<string, Set<Subscription>>;
}

export interface HubOptions {
  reader: ChangeLogReader;
  catalog: TableCatalog;
  /** Where live subscriptions start: the feed's next pass reads what follows. */
  feedCursor: () => Cursor;
  /** Everything up to here of every subscribed table has been published. */
  publishedThrough: () => Cursor;
  pageSize: number;
}

export class Hub {
  private readonly index = new Map<string, TableIndex>();
  private readonly principals = new Map<Subscription, Principal>();
  /** What filters read from rows, once per change for all subscribers. */
  private readonly rowValues = new RowValueMemo();
  /** Changes the feed has published. */
  received = 0;

  constructor(private readonly options: HubOptions) {}

  get subscriptionCount(): number {
    return this.principals.size;
  }

  /** The "schema.table" keys with at least one subscription: the only tables the feed reads. */
  subscribedTables(): ReadonlySet<string> {
    return new Set(this.index.keys());
  }

  /** Live subscriptions per "schema.table". */
  subscriptionsByTable(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const subscription of this.principals.keys()) {
      counts.set(subscription.table.key, (counts.get(subscription.table.key) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * Validates and registers a subscription; checks its cursor against the log.
   * Changes published from here on queue in it until `start` replays the backlog.
   * Returns the subscription and the first backlog page for `start`.
   */
  async subscribe(request: SubscribeRequest): Promise<{ subscription: Subscription; start: () => Promise<void> }> {
    const { subscription, ready } = this.register(request);
    return { subscription, start: await ready };
  }

  /**
   * `subscribe` in two steps, for a caller that must hold the subscription
   * while its cursor is checked (to cancel it, or end it on a token refresh):
   * validates and registers it at once (throws if refused); `ready` resolves
   * with its `start` once the first backlog page is read.
   */
  register(request: SubscribeRequest): { subscription: Subscription; ready: Promise<() => Promise<void>> } {
    const { table, matcher } = this.match(request);
    const since = request.since === undefined ? null : decodeCursor(request.since);
    const live = this.options.feedCursor();
    const subscription = new Subscription({
      id: request.id,
      table,
      filter: request.filter,
      matcher,
      sink: request.sink,
      after: since ?? live,
      backlogUpTo: live,
    });
    this.add(subscription, request.principal);
    return { subscription, ready: this.firstPage(subscription, since, live) };
  }

  /** Reads the first backlog page after `since` (none without one) and returns the subscription's `start`. */
  private async firstPage(subscription: Subscription, since: Cursor | null, live: Cursor): Promise<() => Promise<void>> {
    const { reader, pageSize } = this.options;
    const { schema, name } = subscription.table.info;
    let firstPage: Change[] = [];
    try {
      if (since) {
        // Also refuses a cursor that is pruned or not from this log.
        const page = await reader.readAfter(since, {
          limit: compareCursors(since, live) < 0 ? pageSize : 1,
          table: { schema, name },
          upTo: compareCursors(since, live) < 0 ? live : since,
        });
        firstPage = page.changes;
      }
    } catch (error) {
      this.remove(subscription);
      throw asRowcastError(error);
    }
    return () => subscription.replay(reader, firstPage, pageSize);
  }

  /** Resolves a table and what of it this principal asked for and may see. */
  match(request: MatchRequest): { table: ExposedTable; matcher: ChangeMatcher } {
    const table = this.options.catalog.resolve(request.table);
    const grant = readGrant(request.principal, table.info, table.rule);
    const filter = compileFilter(request.filter, table, this.rowValues);
    const ownership = grant.kind === 'owner' ? this.ownership(table, grant.column, grant.owner) : null;
    return { table, matcher: new ChangeMatcher(new Set(request.ops ?? OPS), grant, filter, table.historyAfterSeq, ownership) };
  }

  /** The rows a sub owns, as the owner column's type reads the sub; one it cannot read owns none, and is refused. */
  private ownership(table: ExposedTable, column: string, sub: string): Ownership {
    const keys = new OwnerKeys(column, table.columns.get(column), this.rowValues);
    const key = keys.ofSub(sub);
    if (key === null) {
      const type = table.columns.get(column)?.type;
      if (type === undefined) throw new RowcastError('forbidden', `the read rule of ${table.key} names owner column ${column}, which it no longer has: only admin reads it`);
      throw new RowcastError('forbidden', `${table.key} is readable by row owners only, and the token's sub is not a value of its owner column ${column} (${type})`);
    }
    return { keys, key };
  }

  /** A newer cursor to hand this subscription's client, if any: see Subscription.cursorNews. */
  cursorNews(subscription: Subscription): Cursor | null {
    return subscription.cursorNews(this.options.publishedThrough());
  }

  unsubscribe(subscription: Subscription): void {
    subscription.close();
    this.remove(subscription);
  }

  /** Fans out changes read by the feed, in order. */
  publish(changes: readonly Change[]): void {
    this.received += changes.length;
    for (const change of changes) {
      const entry = this.index.get(change.tableKey);
      if (!entry) continue;
      for (const subscription of entry.all) subscription.offer(change);
      if (entry.owners !== null && entry.byOwner.size > 0) {
        const owner = entry.owners.ofRow(change.row);
        const owners = owner === null ? undefined : entry.byOwner.get(owner);
        if (owners) for (const subscription of owners) subscription.offer(change);
      }
    }
  }

  /** The feed skipped history it could no longer read (ChangeFeed `expired`): every live subscription ends, and resumes from its cursor. */
  expireAll(): void {
    for (const subscription of [...this.principals.keys()]) {
      subscription.end(new RowcastError('cursor_expired', 'this server fell behind the retained history; resume from your cursor'));
    }
  }

  /** Applies a refreshed token: a subscription its new role may not read ends with `forbidden`. */
  reauthorize(subscription: Subscription, principal: Principal): void {
    if (!this.principals.has(subscription)) return;
    this.principals.set(subscription, principal);
    // Judged by the rule as it is now: the table the subscription began with may carry an older one.
    const table = this.options.catalog.get(subscription.table.key);
    if (!table) {
      subscription.end(new RowcastError('unknown_table', `table ${subscription.table.key} is no longer exposed`));
      return;
    }
    this.recheck(subscription, table, principal);
  }

  /**
   * Re-checks subscriptions of tables whose rule or columns changed or that
   * were unexposed, and compiles their filters again: a column's type, or an
   * enum's labels, may have changed. A filter that no longer fits the table
   * ends its subscription.
   */
  revalidate(keys: readonly string[]): void {
    for (const key of keys) {
      const entry = this.index.get(key);
      if (!entry) continue;
      const subscriptions = [...entry.all, ...[...entry.byOwner.values()].flatMap((s) => [...s])];
      for (const subscription of subscriptions) {
        const table = this.options.catalog.get(key);
        const principal = this.principals.get(subscription);
        if (!table || !principal) {
          subscription.end(new RowcastError('unknown_table', `table ${key} is no longer exposed`));
          continue;
        }
        this.recheck(subscription, table, principal);
        if (subscription.isClosed) continue;
        try {
          subscription.refilter(compileFilter(subscription.filter, table, this.rowValues));
        } catch (error) {
          subscription.end(asRowcastError(error));
        }
      }
    }
  }

  /** Ends a subscription whose grant is no longer what the rule gives; the client resubscribes from its cursor. */
  private recheck(subscription: Subscription, table: ExposedTable, principal: Principal): void {
    try {
      const grant = readGrant(principal, table.info, table.rule);
      // Another table under the name (dropped and created again, or renamed into it), or an owner
      // column of another type (which keys its rows differently), reads as a new grant too.
      const ownerColumn = (t: ExposedTable) => (grant.kind === 'owner' ? JSON.stringify(t.columns.get(grant.column) ?? null) : '');
      if (
        JSON.stringify(grant) !== JSON.stringify(subscription.grant) ||
        table.historyAfterSeq !== subscription.table.historyAfterSeq ||
        ownerColumn(table) !== ownerColumn(subscription.table)
      ) {
        subscription.end(new RowcastError('forbidden', `what you may read of ${table.key} changed; subscribe again`));
      }
    } catch (error) {
      subscription.end(asRowcastError(error));
    }
  }

  private add(subscription: Subscription, principal: Principal): void {
    const key = subscription.table.key;
    let entry = this.index.get(key);
    if (!entry) {
      entry = { all: new Set(), owners: null, byOwner: new Map() };
      this.index.set(key, entry);
    }
    const ownership = subscription.ownership;
    if (ownership !== null) {
      entry.owners = ownership.keys;
      let owners = entry.byOwner.get(ownership.key);
      if (!owners) entry.byOwner.set(ownership.key, (owners = new Set()));
      owners.add(subscription);
    } else {
      entry.all.add(subscription);
    }
    this.principals.set(subscription, principal);
  }

  /** Forgets a subscription; the sink calls this when a subscription ends. */
  remove(subscription: Subscription): void {
    this.principals.delete(subscription);
    const entry = this.index.get(subscription.table.key);
    if (!entry) return;
    entry.all.delete(subscription);
    const ownership = subscription.ownership;
    if (ownership !== null) {
      const owners = entry.byOwner.get(ownership.key);
      owners?.delete(subscription);
      if (owners?.size === 0) entry.byOwner.delete(ownership.key);
    }
    if (entry.all.size === 0 && entry.byOwner.size === 0) this.index.delete(subscription.table.key);
  }
}
