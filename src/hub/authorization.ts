/**
 * Who may read what (CONTRACT §7). A read rule is checked in memory: once per
 * subscription for roles, and per change only for owner rules, where the hub
 * indexes subscriptions by owner so a change reaches only its owner's.
 */
import { RowcastError } from '../errors.js';
import type { TableInfo } from '../protocol.js';

export interface Principal {
  sub: string | null;
  role: string | null;
  /** Token expiry in seconds since the epoch; null when the token has none or auth is off. */
  exp: number | null;
  /**
   * When connections on this token end (ms since the epoch): `exp` plus the
   * clock tolerance its verification allowed, so a token accepted within the
   * tolerance is not dropped the moment it is accepted.
   */
  endsAtMs: number | null;
}

/** Open dev mode: every client acts as admin. */
export const DEV_PRINCIPAL: Principal = { sub: null, role: 'admin', exp: null, endsAtMs: null };

export type ReadRule =
  | { kind: 'authenticated' }
  | { kind: 'roles'; roles: readonly string[] }
  | { kind: 'owner'; column: string };

/** What a principal may see of a table: nothing (throws), all rows, or rows it owns. */
export type ReadGrant = { kind: 'all' } | { kind: 'owner'; column: string; owner: string };

export function readGrant(principal: Principal, table: TableInfo, rule: ReadRule): ReadGrant {
  if (principal.role === 'admin') return { kind: 'all' };
  const name = `${table.schema}.${table.name}`;
  switch (rule.kind) {
    case 'authenticated':
      return { kind: 'all' };
    case 'roles':
      if (principal.role !== null && rule.roles.includes(principal.role)) return { kind: 'all' };
      throw new RowcastError('forbidden', `role ${principal.role ?? '(none)'} may not read ${name}`);
    case 'owner':
      if (principal.sub === null) throw new RowcastError('forbidden', `${name} is readable by row owners only, and the token has no sub`);
      return { kind: 'owner', column: rule.column, owner: principal.sub };
  }
}
