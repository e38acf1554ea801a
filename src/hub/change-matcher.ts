/**
 * ChangeMatcher: whether a change is for a given client (its ops, its read
 * grant: owner rows only, for owner rules; its filter) and what of it the
 * client may see. Shared by live subscriptions and by catch-up reads, so both
 * see exactly the same rows.
 */
import type { Change } from '../capture/change.js';
import type { Op } from '../protocol.js';
import { ownerKey, type ReadGrant } from './authorization.js';
import type { RowPredicate } from './subscription-filter.js';

export class ChangeMatcher {
  constructor(
    readonly ops: ReadonlySet<Op>,
    readonly grant: ReadGrant,
    private readonly filter: RowPredicate | null,
  ) {}

  withFilter(filter: RowPredicate | null): ChangeMatcher {
    return new ChangeMatcher(this.ops, this.grant, filter);
  }

  /** The change as this client may see it, or null when it is not for this client. */
  admit(change: Change): Change | null {
    if (!this.ops.has(change.op)) return null;
    const grant = this.grant;
    if (grant.kind === 'owner') {
      if (ownerKey(change.row[grant.column]) !== grant.owner) return null;
      if (this.filter !== null && !this.filter(change.row)) return null;
      // A row handed over from another owner: its previous version was never this client's to read.
      const old = change.old;
      return old !== null && ownerKey(old[grant.column]) !== grant.owner ? change.withoutOld() : change;
    }
    return this.filter === null || this.filter(change.row) ? change : null;
  }
}
