/**
 * TableCatalog: the exposed tables, their columns and read rules, read from
 * the database and reloaded when a DBA exposes or unexposes one (the server
 * is told through the rowcast_control channel).
 */
import { EventEmitter } from 'node:events';
import { sql, type Kysely } from 'kysely';
import type { RowcastTables } from '../db/database.js';
import { RowcastError } from '../errors.js';
import type { TableColumn, TableInfo } from '../protocol.js';
import type { ReadRule } from './authorization.js';

/**
 * A column as filters see it: for a domain, `baseType` is the type underneath
 * (what to_json writes); for an array of domains, the array of their base type.
 */
export interface CatalogColumn extends TableColumn {
  readonly baseType: string;
  /** For an enum (or a domain over one, or an array of either), its labels in the type's order; else null. */
  readonly enumLabels: readonly string[] | null;
}

export interface ExposedTable {
  /** "schema.table" */
  readonly key: string;
  readonly info: TableInfo;
  readonly rule: ReadRule;
  readonly columns: ReadonlyMap<string, CatalogColumn>;
  /**
   * Changes logged under this name with seq up to here were written before
   * this table was exposed under it (by a table since dropped or renamed):
   * not this table's, served to no one (sql/0008).
   */
  readonly historyAfterSeq: number;
}

interface CatalogRow {
  /** The registry's version this state was read at (on every row, and on the one row of an empty registry). */
  version: string;
  table_schema: string | null;
  table_name: string | null;
  read_roles: string[] | null;
  owner_column: string | null;
  history_after_seq: string | null;
  columns: Array<TableColumn & { base_type: string; enum_labels: string[] | null }> | null;
  primary_key: string[] | null;
}

export interface CatalogEvents {
  /** Tables that disappeared or whose rule or columns changed. */
  changed: [keys: string[]];
}

function ruleOf(row: CatalogRow): ReadRule {
  if (row.read_roles) return { kind: 'roles', roles: row.read_roles };
  if (row.owner_column) return { kind: 'owner', column: row.owner_column };
  return { kind: 'authenticated' };
}

export class TableCatalog extends EventEmitter<CatalogEvents> {
  private tables = new Map<string, ExposedTable>();
  private signature = new Map<string, string>();
  /** Reloads run concurrently (one per notification); only a newer one may replace the state. */
  private started = 0;
  private applied = 0;
  /** The registry version (rowcast.registry) the current state was read at. */
  version = 0;

  constructor(private readonly db: Kysely<RowcastTables>) {
    super();
  }

  async refresh(): Promise<void> {
    const generation = ++this.started;
    const { rows } = await sql<CatalogRow>`
      select r.version::text, t.* from rowcast.registry r left join (
        select e.table_schema, e.table_name, e.read_roles, e.owner_column, e.history_after_seq::text,
          (select json_agg(json_build_object(
                    'name', a.attname,
                    'type', format_type(a.atttypid, a.atttypmod),
                    -- A NOT NULL added NOT VALID (PostgreSQL 18) sets attnotnull while older rows may be null.
                    'nullable', not a.attnotnull or exists (
                      select from pg_constraint k
                      where k.conrelid = c.oid and k.contype = 'n' and not k.convalidated and a.attnum = any (k.conkey)),
                    'base_type', case when e.oid is null then format_type(b.oid, b.typmod) else format_type(e.oid, e.typmod) || '[]' end,
                    'enum_labels', (select json_agg(l.enumlabel order by l.enumsortorder) from pg_enum l where l.enumtypid = coalesce(e.oid, b.oid))
                    ) order by a.attnum)
             from pg_attribute a
             cross join lateral (
               with recursive d(oid, typmod) as (
                 select a.atttypid, a.atttypmod
                 union all
                 select t.typbasetype, t.typtypmod from d join pg_type t on t.oid = d.oid where t.typtype = 'd')
               select d.oid, d.typmod from d join pg_type t on t.oid = d.oid where t.typtype <> 'd') b
             -- An array's element type, through its domains too: an array of enums orders nothing but reads its labels.
             left join lateral (
               with recursive d(oid, typmod) as (
                 select t.typelem, b.typmod from pg_type t where t.oid = b.oid and t.typsubscript = 'array_subscript_handler'::regproc
                 union all
                 select t.typbasetype, t.typtypmod from d join pg_type t on t.oid = d.oid where t.typtype = 'd')
               select d.oid, d.typmod from d join pg_type t on t.oid = d.oid where t.typtype <> 'd') e on true
            where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
          (select json_agg(a.attname order by array_position(i.indkey, a.attnum))
             from pg_index i
             join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any (i.indkey)
            where i.indrelid = c.oid and i.indisprimary) as primary_key
        from rowcast.exposed_tables e
        join pg_namespace n on n.nspname = e.table_schema
        join pg_class c on c.relnamespace = n.oid and c.relname = e.table_name
      ) t on true
      order by t.table_schema, t.table_name`.execute(this.db);
    if (generation < this.applied) return;
    this.applied = generation;
    this.version = Number(rows[0]?.version ?? 0);
    const next = new Map<string, ExposedTable>();
    const nextSignature = new Map<string, string>();
    for (const row of rows) {
      if (row.table_schema === null || row.table_name === null) continue;
      const key = `${row.table_schema}.${row.table_name}`;
      const rule = ruleOf(row);
      const catalogColumns = (row.columns ?? []).map(({ base_type, enum_labels, ...column }) => ({ ...column, baseType: base_type, enumLabels: enum_labels }));
      const columns = catalogColumns.map(({ baseType: _, enumLabels: __, ...column }) => column);
      const info: TableInfo = {
        schema: row.table_schema,
        name: row.table_name,
        primary_key: row.primary_key ?? [],
        columns,
        read_rule: rule.kind,
      };
      const historyAfterSeq = Number(row.history_after_seq ?? 0);
      next.set(key, { key, info, rule, columns: new Map(catalogColumns.map((c) => [c.name, c])), historyAfterSeq });
      nextSignature.set(key, JSON.stringify([rule, catalogColumns, historyAfterSeq]));
    }
    const changed = [...this.signature.keys()].filter((k) => nextSignature.get(k) !== this.signature.get(k));
    this.tables = next;
    this.signature = nextSignature;
    if (changed.length > 0) this.emit('changed', changed);
  }

  /**
   * Reloads until the state is at least `version`: what a change about to be
   * published was read with, so the rules it is judged by are never older.
   */
  async ensureVersion(version: number): Promise<void> {
    while (this.version < version) await this.refresh();
  }

  list(): ExposedTable[] {
    return [...this.tables.values()];
  }

  get(key: string): ExposedTable | undefined {
    return this.tables.get(key);
  }

  /** "orders" means public.orders; "schema.table" names any schema. */
  resolve(name: string): ExposedTable {
    const key = name.includes('.') ? name : `public.${name}`;
    const table = this.tables.get(key);
    if (!table) throw new RowcastError('unknown_table', `table ${name} is not exposed`);
    return table;
  }
}
