/**
 * ChangeMatcher: whether a change is for a given client: its ops, its read
 * grant (owner rows only, for owner rules) and its filter. Shared by live
 * subscriptions and by catch-up reads, so both see exactly the same rows.
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

  accepts(change: Change): boolean {
    if (!this.ops.has(change.op)) return false;
    const grant = this.grant;
    if (grant.kind === 'owner' && ownerKey(change.row[grant.column]) !== grant.owner) return false;
    return this.filter === null || this.filter(change.row);
  }
}
