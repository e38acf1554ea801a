/**
 * Writers that know exactly what they committed. Every transaction is logged
 * in a Ledger: the keys of the changes it made, grouped by statement, its
 * outcome, and when its COMMIT was sent and when it returned, on one
 * client-side clock. The delivery checks compare what clients received with
 * this log, so the writers are the oracle, not the server.
 */
import type pg from 'pg';

let clock = 0;
/** Client-side event order: the event loop runs one callback at a time, so ticks are real order. */
export function tick(): number {
  return ++clock;
}

export type Outcome = 'open' | 'committed' | 'rolled back' | 'failed';

export interface TxRecord {
  readonly label: string;
  /** Keys of its changes (see changeKey), one array per statement, in statement order. */
  readonly statements: string[][];
  outcome: Outcome;
  /** Tick taken just before COMMIT (or the autocommit statement) was sent. */
  commitSent: number;
  /** Tick taken just after it returned. */
  commitDone: number;
}

/** What identifies a change on `posts`, as its writer knows it: inserts tag title, updates tag body. */
export function changeKey(e: { op: string; row: Record<string, unknown> }): string {
  if (e.op === 'INSERT') return `I:${String(e.row.title)}`;
  if (e.op === 'UPDATE') return `U:${String(e.row.body)}`;
  return `D:${String(e.row.id)}`;
}

export class Ledger {
  readonly txs: TxRecord[] = [];

  open(label: string): TxRecord {
    const record: TxRecord = { label, statements: [], outcome: 'open', commitSent: 0, commitDone: 0 };
    this.txs.push(record);
    return record;
  }

  committed(): TxRecord[] {
    return this.txs.filter((t) => t.outcome === 'committed');
  }

  committedChanges(): number {
    return this.committed().reduce((n, t) => n + t.statements.flat().length, 0);
  }
}

type Client = pg.ClientBase;

/** One transaction on `posts` whose every change is recorded under a unique tag. */
export class Tx {
  private n = 0;
  private savepointAt: number | null = null;

  private constructor(
    private readonly client: Client,
    readonly record: TxRecord,
  ) {}

  static async begin(client: Client, ledger: Ledger, label: string): Promise<Tx> {
    const tx = new Tx(client, ledger.open(label));
    await client.query('begin');
    return tx;
  }

  /** One autocommit INSERT of `count` rows: a transaction of one statement. */
  static async single(client: Client, ledger: Ledger, label: string, count = 1, body?: (tag: string) => string): Promise<number[]> {
    const tx = new Tx(client, ledger.open(label));
    tx.record.commitSent = tick();
    try {
      const ids = await tx.insert(count, body);
      tx.record.commitDone = tick();
      tx.record.outcome = 'committed';
      return ids;
    } catch (error) {
      tx.record.outcome = 'failed';
      throw error;
    }
  }

  private tag(): string {
    this.n += 1;
    return `${this.record.label}.${this.n}`;
  }

  /** INSERTs `count` rows in one statement; title = body = a unique tag unless `body` says otherwise. */
  async insert(count = 1, body?: (tag: string) => string): Promise<number[]> {
    const tags = Array.from({ length: count }, () => this.tag());
    const values = tags.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ');
    const params = tags.flatMap((t) => [t, body ? body(t) : t]);
    const { rows } = await this.client.query<{ id: string }>(`insert into posts (title, body) values ${values} returning id`, params);
    this.record.statements.push(tags.map((t) => `I:${t}`));
    return rows.map((r) => Number(r.id));
  }

  /** UPDATEs these rows in one statement, each to a body tag of its own. */
  async update(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    const tags = ids.map(() => this.tag());
    await this.client.query(
      'update posts set body = v.tag, likes = likes + 1 from unnest($1::bigint[], $2::text[]) as v(id, tag) where posts.id = v.id',
      [ids, tags],
    );
    this.record.statements.push(tags.map((t) => `U:${t}`));
  }

  /** DELETEs these rows in one statement. */
  async delete(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.client.query('delete from posts where id = any($1::bigint[])', [ids]);
    this.record.statements.push(ids.map((id) => `D:${id}`));
  }

  /** Sleeps inside the transaction: it stays open while others commit. */
  async sleep(seconds: number): Promise<void> {
    await this.client.query('select pg_sleep($1)', [seconds]);
  }

  /** Takes a transaction id before writing anything to an exposed table. */
  async takeXid(): Promise<void> {
    await this.client.query('select pg_current_xact_id()');
  }

  async savepoint(): Promise<void> {
    await this.client.query('savepoint s');
    this.savepointAt = this.record.statements.length;
  }

  async rollbackToSavepoint(): Promise<void> {
    await this.client.query('rollback to savepoint s');
    if (this.savepointAt !== null) this.record.statements.splice(this.savepointAt);
    this.savepointAt = null;
  }

  async commit(): Promise<void> {
    this.record.commitSent = tick();
    try {
      await this.client.query('commit');
    } catch (error) {
      this.record.outcome = 'failed';
      throw error;
    }
    this.record.commitDone = tick();
    this.record.outcome = 'committed';
  }

  async rollback(): Promise<void> {
    await this.client.query('rollback');
    this.record.outcome = 'rolled back';
  }
}

/** Commits one last single-row transaction; returns its key. Commit order puts it after everything committed before. */
export async function markEnd(pool: pg.Pool, ledger: Ledger, label = 'end'): Promise<string> {
  const client = await pool.connect();
  try {
    await Tx.single(client, ledger, label);
  } finally {
    client.release();
  }
  return `I:${label}.1`;
}

/** Single-row orders, one transaction each, for `ms`: changes of a table that clients of `posts` do not read. */
export async function writeOrders(pool: pg.Pool, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) await pool.query("insert into orders (status, total) values ('pending', 1)");
}
