/**
 * ChangeMatcher: whether a change is for a given client (its ops, its read
 * grant: owner rows only, for owner rules; its filter; the table's own
 * history, not that of a table that had its name before) and what of it the
 * client may see. Shared by live subscriptions and by catch-up reads, so both
 * see exactly the same rows.
 */
import type { Change } from '../capture/change.js';
import type { Op } from '../protocol.js';
import type { ReadGrant } from './authorization.js';
import type { OwnerKeys } from './owner-keys.js';
import type { RowPredicate } from './subscription-filter.js';

/** An owner grant's keys: how rows are keyed, and the key of the rows this client owns. */
export interface Ownership {
  keys: OwnerKeys;
  key: string;
}

export class ChangeMatcher {
  constructor(
    readonly ops: ReadonlySet<Op>,
    readonly grant: ReadGrant,
    private readonly filter: RowPredicate | null,
    /** The table's ExposedTable.historyAfterSeq: what lies at or before it was another table's. */
    private readonly historyAfterSeq: number,
    /** For an owner grant. */
    readonly ownership: Ownership | null,
  ) {}

  withFilter(filter: RowPredicate | null): ChangeMatcher {
    return new ChangeMatcher(this.ops, this.grant, filter, this.historyAfterSeq, this.ownership);
  }

  /** The change as this client may see it, or null when it is not for this client. */
  admit(change: Change): Change | null {
    if (!this.ops.has(change.op) || change.record.seq <= this.historyAfterSeq) return null;
    const ownership = this.ownership;
    if (ownership !== null) {
      if (ownership.keys.ofRow(change.row) !== ownership.key) return null;
      if (this.filter !== null && !this.filter(change.row)) return null;
      // A row handed over from another owner: its previous version was never this client's to read.
      const old = change.old;
      return old !== null && ownership.keys.ofRow(old) !== ownership.key ? change.withoutOld() : change;
    }
    return this.filter === null || this.filter(change.row) ? change : null;
  }
}
