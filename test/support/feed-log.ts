/**
 * The change log as /changes serves it to one subscription, and a comparison
 * of what a client received with it: the oracle of tests whose subscriptions
 * (ops, filters, owner rules) see only part of what the writers' ledger holds.
 */
import type { ChangeEvent } from '../../src/protocol.js';
import { bareEvent } from './delivery-check.js';
import { subscriptionQuery, type SubscriptionSpec } from './resumer.js';
import { changeKey } from './writers.js';

export interface ChangesPage {
  changes: ChangeEvent[];
  cursor: string;
}

/** One GET /changes/:table page for this subscription after `since`; a refusal as `HTTP <status> <body>`. */
export async function fetchChanges(url: string, spec: SubscriptionSpec, since: string, limit: number): Promise<ChangesPage | string> {
  const query = subscriptionQuery(spec, { since, limit: String(limit) });
  const res = await fetch(`${url}/changes/${spec.table}?${query}`, spec.token ? { headers: { authorization: `Bearer ${spec.token}` } } : {});
  const text = await res.text();
  if (res.status !== 200) return `HTTP ${res.status} ${text.slice(0, 300)}`;
  return JSON.parse(text) as ChangesPage;
}

/** Everything after `since` the change log holds for this subscription. */
export async function readLog(url: string, spec: SubscriptionSpec, since: string): Promise<ChangeEvent[]> {
  const out: ChangeEvent[] = [];
  let cursor = since;
  for (let i = 0; i < 1000; i++) {
    const page = await fetchChanges(url, spec, cursor, 10_000);
    if (typeof page === 'string') throw new Error(`/changes answered ${page}`);
    out.push(...page.changes);
    if (page.changes.length === 0) return out;
    cursor = page.cursor;
  }
  throw new Error('the log did not end');
}

const ids = (events: readonly { id: string }[]) => events.map((e) => e.id);

/** What `got` lacks, repeats, or has that `expected` does not; [] when they are the same feed in the same order. */
export function feedProblems(got: readonly ChangeEvent[], expected: readonly ChangeEvent[]): string[] {
  const problems: string[] = [];
  const want = new Set(ids(expected));
  const seen = new Map<string, number>();
  for (const e of got) seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
  const show = (list: string[]) => `${list.length}: ${list.slice(0, 10).join(', ')}${list.length > 10 ? ' …' : ''}`;
  const key = (id: string) => {
    const e = expected.find((x) => x.id === id) ?? got.find((x) => x.id === id);
    return e ? `${id} ${changeKey(e)}` : id;
  };
  const missing = ids(expected).filter((id) => !seen.has(id));
  const extra = [...seen.keys()].filter((id) => !want.has(id));
  const repeated = [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${key(id)} ×${n}`);
  if (missing.length > 0) problems.push(`missing (gap) ${show(missing.map(key))}`);
  if (repeated.length > 0) problems.push(`delivered more than once ${show(repeated)}`);
  if (extra.length > 0) problems.push(`not in the log for this subscription ${show(extra.map(key))}`);
  if (problems.length === 0 && ids(got).join() !== ids(expected).join()) problems.push('same changes, different order');
  if (problems.length === 0 && JSON.stringify(got.map(bareEvent)) !== JSON.stringify(expected.map(bareEvent))) problems.push('same ids, different events');
  return problems;
}
