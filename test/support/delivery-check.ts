/**
 * The delivery guarantee of CONTRACT §3 as one check of what a client
 * received against the writers' ledger: every committed change exactly once,
 * nothing from rolled-back work, each transaction's changes together and in
 * statement order, and transactions in real-time commit order (if A's COMMIT
 * returned before B's COMMIT was sent, A comes first). It returns a list of
 * problems, so a failure names every violation at once.
 */
import { changeKey, type Ledger, type TxRecord } from './writers.js';

export interface Received {
  id: string;
  op: string;
  row: Record<string, unknown>;
}

const MAX_LISTED = 12;

function listed(what: string, items: readonly string[]): string[] {
  if (items.length === 0) return [];
  const more = items.length > MAX_LISTED ? ` … and ${items.length - MAX_LISTED} more` : '';
  return [`${what} (${items.length}): ${items.slice(0, MAX_LISTED).join(', ')}${more}`];
}

/** Problems with `events` as the feed of every committed change in `ledger`; [] when it is exactly right. */
export function deliveryProblems(events: readonly Received[], ledger: Ledger): string[] {
  const problems: string[] = [];
  const owner = new Map<string, TxRecord>();
  const discarded = new Map<string, TxRecord>();
  for (const tx of ledger.txs) {
    for (const key of tx.statements.flat()) (tx.outcome === 'committed' ? owner : discarded).set(key, tx);
  }

  const ids = new Set<string>();
  const duplicateIds: string[] = [];
  const seen = new Map<string, number>();
  const unknown: string[] = [];
  const fromRolledBack: string[] = [];
  for (const e of events) {
    if (ids.has(e.id)) duplicateIds.push(e.id);
    ids.add(e.id);
    const key = changeKey(e);
    seen.set(key, (seen.get(key) ?? 0) + 1);
    if (owner.has(key)) continue;
    if (discarded.has(key)) fromRolledBack.push(`${key} (${discarded.get(key)?.outcome})`);
    else unknown.push(key);
  }
  problems.push(...listed('event ids delivered more than once', duplicateIds));
  problems.push(...listed('changes delivered more than once', [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`)));
  problems.push(...listed('changes of rolled-back work delivered', fromRolledBack));
  problems.push(...listed('changes nobody wrote delivered', unknown));
  const missing = [...owner.keys()].filter((k) => !seen.has(k));
  problems.push(...listed('committed changes never delivered', missing.map((k) => `${k} of ${owner.get(k)?.label}`)));

  // Runs of consecutive changes of one transaction, in delivery order.
  const runs: Array<{ tx: TxRecord; keys: string[] }> = [];
  for (const e of events) {
    const tx = owner.get(changeKey(e));
    if (!tx) continue;
    const last = runs.at(-1);
    if (last?.tx === tx) last.keys.push(changeKey(e));
    else runs.push({ tx, keys: [changeKey(e)] });
  }
  const runCount = new Map<TxRecord, number>();
  for (const run of runs) runCount.set(run.tx, (runCount.get(run.tx) ?? 0) + 1);
  problems.push(...listed('transactions split apart', [...runCount].filter(([, n]) => n > 1).map(([tx, n]) => `${tx.label} in ${n} pieces`)));

  // Statement order: the run, cut at statement sizes, gives each statement's keys (any order within one statement).
  const misordered: string[] = [];
  for (const { tx, keys } of runs) {
    if (runCount.get(tx) !== 1 || keys.length !== tx.statements.flat().length) continue;
    let at = 0;
    for (const statement of tx.statements) {
      const got = keys.slice(at, at + statement.length).sort();
      at += statement.length;
      if (got.join() !== [...statement].sort().join()) {
        misordered.push(`${tx.label}: got ${keys.join(' ')}, wrote ${tx.statements.map((s) => s.join(' ')).join(' | ')}`);
        break;
      }
    }
  }
  problems.push(...listed('transactions not in statement order', misordered));

  // Real-time commit order, over transactions that made changes.
  const order = runs.map((r) => r.tx);
  const inversions: string[] = [];
  for (let i = 0; i < order.length; i++) {
    for (let j = i + 1; j < order.length; j++) {
      const [a, b] = [order[i] as TxRecord, order[j] as TxRecord];
      if (a !== b && b.commitDone < a.commitSent) {
        inversions.push(`${b.label} (commit returned at t${b.commitDone}) delivered after ${a.label} (commit sent at t${a.commitSent})`);
      }
    }
  }
  problems.push(...listed('transactions out of commit order', inversions));
  return problems;
}

/** The transactions in the order their changes were received (first appearance). */
export function transactionOrder(events: readonly Received[], ledger: Ledger): string[] {
  const owner = new Map<string, string>();
  for (const tx of ledger.committed()) for (const key of tx.statements.flat()) owner.set(key, tx.label);
  const order: string[] = [];
  for (const e of events) {
    const label = owner.get(changeKey(e)) ?? `?${changeKey(e)}`;
    if (order.at(-1) !== label) order.push(label);
  }
  return order;
}

/** An event as every transport carries it (CONTRACT §3), without the WebSocket envelope. */
export function bareEvent(e: Record<string, unknown>): Record<string, unknown> {
  const { type: _type, sub: _sub, ...event } = e;
  return event;
}
