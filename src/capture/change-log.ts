/**
 * ChangeLogReader: every query Rowcast makes of the change log. Reads follow
 * the commit order kept by rowcast.transactions, never the write order.
 */
import { sql, type Kysely } from 'kysely';
import type { Pool } from 'pg';
import type { RowcastTables } from '../db/database.js';
import { RowcastError } from '../errors.js';
import type { Op } from '../protocol.js';
import { Change } from './change.js';
import { afterTransaction, compareCursors, type Cursor } from './cursor.js';

export interface ReadOptions {
  limit: number;
  /** Only this table… */
  table?: { schema: string; name: string };
  /** …or only these "schema.table" keys; all tables when neither is given. */
  tables?: readonly string[];
  /** Read nothing past this cursor (inclusive). */
  upTo?: Cursor;
  /**
   * `after` is the oldest retained cursor as the caller last read it, not a
   * client's: history pruned since is no gap to refuse, and the page starts
   * at whatever is retained now.
   */
  fromOldest?: boolean;
}

export interface Page {
  changes: Change[];
  /** Cursor after the whole sequenced log when the page was read. */
  head: Cursor;
}

interface ChangeRow {
  pos: string | null;
  seq: string | null;
  table_schema: string;
  table_name: string;
  op: Op;
  row: string;
  old: string | null;
  committed_at: string;
}

interface PageRow extends ChangeRow {
  pruned_pos: string;
  pruned_seq: string;
  head_pos: string;
  registry_version: string;
}

interface AdvanceRow extends ChangeRow {
  head_pos: string;
  at_head: boolean;
}

/** Rows of a page; a row without a position carries only the page's marker columns. */
function toChanges(rows: ChangeRow[]): Change[] {
  const changes: Change[] = [];
  for (const r of rows) {
    if (r.pos === null || r.seq === null) continue;
    changes.push(
      new Change({
        pos: Number(r.pos),
        seq: Number(r.seq),
        schema: r.table_schema,
        table: r.table_name,
        op: r.op,
        rowJson: r.row,
        oldJson: r.old,
        committedAt: r.committed_at,
      }),
    );
  }
  return changes;
}

const NO_LIMIT: Cursor = { pos: Number.MAX_SAFE_INTEGER, seq: 0 };

/**
 * The table catalog, as the reader needs it: changes are handed out only
 * once the catalog has caught up with the registry version (rowcast.registry)
 * read after them, so no change is judged by a rule older than itself.
 */
export interface RegistryFollower {
  ensureVersion(version: number): Promise<void>;
}

export class ChangeLogReader {
  constructor(
    private readonly db: Kysely<RowcastTables>,
    /** For named statements, which PostgreSQL plans once per connection. */
    private readonly pool: Pool,
    private readonly registry: RegistryFollower,
  ) {}

  /** Gives newly committed transactions their positions; returns the head cursor. */
  async sequence(): Promise<Cursor> {
    const { rows } = await this.pool.query<{ head: string }>({ name: 'rowcast_sequence', text: 'select rowcast.sequence()::text as head' });
    return afterTransaction(Number(rows[0]?.head ?? 0));
  }

  /**
   * The live feed's pass: sequences, and when `after` stood at the previous
   * head (`atHead`) returns the changes just placed of `tables` ("schema.table"
   * keys; null for all), at most `limit`, with the new head: one round trip,
   * with plans PostgreSQL keeps. Otherwise (another instance placed
   * transactions in between) the caller reads after its cursor.
   */
  async advance(after: Cursor, limit: number, tables: readonly string[] | null): Promise<Page & { atHead: boolean }> {
    const { rows } = await this.pool.query<AdvanceRow>({
      name: 'rowcast_advance',
      text:
        'select head_pos::text, at_head, pos::text, seq::text, table_schema, table_name, op, "row", old, committed_at ' +
        'from rowcast.advance($1, $2, $3, $4)',
      values: [after.pos, after.seq, limit, tables],
    });
    const first = rows[0];
    const changes = toChanges(rows);
    // Read after the pass, so it covers every rule committed before the changes it placed.
    if (changes.length > 0) await this.registry.ensureVersion(await this.registryVersion());
    return { changes, head: afterTransaction(Number(first?.head_pos ?? 0)), atHead: first?.at_head === true };
  }

  private async registryVersion(): Promise<number> {
    const { rows } = await this.pool.query<{ version: string }>({
      name: 'rowcast_registry_version',
      text: 'select version::text from rowcast.registry',
    });
    return Number(rows[0]?.version ?? 0);
  }

  /**
   * Changes strictly after `after`, in commit order. One statement, so the
   * retention marker it checks and the rows it returns are from one snapshot:
   * a prune running alongside can never turn into a silent gap.
   */
  async readAfter(after: Cursor, options: ReadOptions): Promise<Page> {
    const upTo = options.upTo ?? NO_LIMIT;
    const { table, tables } = options;
    const compiled = sql<PageRow>`
      with marker as (
        select pruned_pos::text, pruned_seq::text, head_pos::text,
               (select version::text from rowcast.registry) as registry_version
        from rowcast.sequencer
      ), page as (
        select t.pos, c.seq, c.table_schema, c.table_name, c.op,
               c."row"::text as row, c.old::text as old,
               to_char(t.committed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as committed_at
        from rowcast.transactions t
        join rowcast.changes c on c.xid = t.xid
        where t.pos >= ${after.pos} and (t.pos > ${after.pos} or c.seq > ${after.seq})
          and (t.pos < ${upTo.pos} or (t.pos = ${upTo.pos} and c.seq <= ${upTo.seq}))
          ${table ? sql`and c.table_schema = ${table.schema} and c.table_name = ${table.name}` : sql``}
          ${tables ? sql`and c.table_schema || '.' || c.table_name = any (${[...tables]}::text[])` : sql``}
        order by t.pos, c.seq
        limit ${options.limit}
      )
      select marker.*, page.pos::text, page.seq::text, page.table_schema, page.table_name,
             page.op, page.row, page.old, page.committed_at
      from marker left join page on true
      order by page.pos, page.seq`.compile(this.db);
    // Named, so PostgreSQL plans it once per connection instead of on every read.
    const { rows } = await this.pool.query<PageRow>({
      name: table ? 'rowcast_read_after_table' : tables ? 'rowcast_read_after_tables' : 'rowcast_read_after',
      text: compiled.sql,
      values: compiled.parameters as unknown[],
    });
    const first = rows[0];
    if (!first) throw new RowcastError('unavailable', 'the rowcast.sequencer row is missing');
    const pruned = { pos: Number(first.pruned_pos), seq: Number(first.pruned_seq) };
    const head = afterTransaction(Number(first.head_pos));
    if (compareCursors(after, pruned) < 0 && !options.fromOldest) {
      throw new RowcastError('cursor_expired', 'the cursor is older than the retained history; start over without it');
    }
    if (compareCursors(after, head) > 0) {
      throw new RowcastError('cursor_expired', 'the cursor is not from this change log; start over without it');
    }
    const changes = toChanges(rows);
    // Same statement, same snapshot: the rules these changes were committed under, or newer.
    if (changes.length > 0) await this.registry.ensureVersion(Number(first.registry_version));
    return { changes, head };
  }

  /** The oldest cursor a client may resume from. */
  async oldest(): Promise<Cursor> {
    const row = await this.db
      .selectFrom('rowcast.sequencer')
      .select(['pruned_pos', 'pruned_seq'])
      .executeTakeFirstOrThrow();
    return { pos: Number(row.pruned_pos), seq: Number(row.pruned_seq) };
  }

  /** Deletes history older than `retentionMs`, in bounded batches; returns changes removed. */
  async prune(retentionMs: number, batch = 5000): Promise<number> {
    let total = 0;
    for (;;) {
      const { rows } = await sql<{ n: number }>`
        select rowcast.prune(${`${Math.floor(retentionMs / 1000)} seconds`}::interval, ${batch}) as n`.execute(this.db);
      const n = rows[0]?.n ?? 0;
      total += n;
      if (n === 0) return total;
    }
  }
}
