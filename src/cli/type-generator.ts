/**
 * `rowcast types`: TypeScript row types of the exposed tables, read from the
 * live catalog. Each column gets the JSON type to_json gives it, since that
 * is how rows travel in change events (src/client/tables.ts is the output
 * for the demo tables).
 */
import type pg from 'pg';

export interface ColumnSource {
  name: string;
  typeOid: number;
  /** A validated NOT NULL on the column itself; a domain's NOT NULL is not kept in every case (see PostgreSQL's CREATE DOMAIN). */
  notNull: boolean;
  /** PostgreSQL 18's virtual generated column: computed when read, so a trigger's row has no value for it. */
  virtual: boolean;
  /** Declared array dimensions (attndims); 0 when not declared. */
  dims: number;
  /** Declared type modifier (atttypmod), e.g. numeric(12,2)'s; -1 when none. */
  typmod: number;
}

export interface TableSource {
  schema: string;
  name: string;
  columns: ColumnSource[];
}

/** What of pg_type decides a column's JSON type. */
export interface PgType {
  oid: number;
  name: string;
  schema: string;
  /** typtype: b base, c composite, d domain, e enum, p pseudo, r range, m multirange */
  kind: string;
  /** typcategory: 'A' for arrays */
  category: string;
  base: number;
  /** A domain's type modifier on its base (typtypmod); -1 when none. */
  typmod: number;
  element: number;
  labels: string[] | null;
  /** The type has a cast to json or jsonb, which to_jsonb uses. */
  jsonCast: boolean;
}

export interface TypeSources {
  tables: TableSource[];
  types: ReadonlyMap<number, PgType>;
}

const HEADER = `/**
 * Row types of the exposed tables, as \`rowcast types\` generates them from the
 * live database: each column typed as it arrives in a change event's JSON.
 * Regenerate after a schema change: \`npx rowcast types > src/rowcast-types.ts\`.
 */
`;

/** to_json writes NaN and ±Infinity, which JSON has no number for, as strings. */
const FLOAT = "number | 'NaN' | 'Infinity' | '-Infinity'";
/** A numeric with a declared precision holds NaN but no infinity. */
const BOUNDED_NUMERIC = "number | 'NaN'";

/** Built-in types to_json renders as something other than a JSON string. */
const BUILTIN_JSON_TYPES: Record<string, string> = {
  int2: 'number',
  int4: 'number',
  int8: 'number',
  float4: FLOAT,
  float8: FLOAT,
  numeric: FLOAT,
  bool: 'boolean',
  json: 'unknown',
  jsonb: 'unknown',
};

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function quote(text: string): string {
  return `'${JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}

function propertyName(name: string): string {
  return IDENTIFIER.test(name) ? name : quote(name);
}

/**
 * The TypeScript type of one value of type `oid` with type modifier `typmod`
 * (an array's applies to its elements, any of which may be null).
 */
function jsonTypeOf(oid: number, typmod: number, types: ReadonlyMap<number, PgType>): string {
  let type = types.get(oid);
  while (type?.kind === 'd') {
    if (type.typmod >= 0) typmod = type.typmod;
    type = types.get(type.base);
  }
  if (!type) return 'unknown';
  if (type.category === 'A' && type.element !== 0) {
    const element = jsonTypeOf(type.element, typmod, types);
    return element === 'unknown' ? 'unknown[]' : `(${element} | null)[]`;
  }
  if (type.schema === 'pg_catalog' && type.name === 'numeric' && typmod >= 0) return BOUNDED_NUMERIC;
  if (type.schema === 'pg_catalog' && BUILTIN_JSON_TYPES[type.name]) return BUILTIN_JSON_TYPES[type.name]!;
  if (type.kind === 'e' && type.labels?.length) return type.labels.map(quote).join(' | ');
  if (type.kind === 'c') return '{ [column: string]: unknown }';
  if (type.jsonCast) return 'unknown';
  return 'string';
}

function columnType(column: ColumnSource, types: ReadonlyMap<number, PgType>): string {
  if (column.virtual) return 'null';
  const ts = jsonTypeOf(column.typeOid, column.typmod, types);
  // to_json nests multi-dimensional arrays; attndims tells how deep as declared (PostgreSQL does not enforce it).
  const typed = column.dims > 1 && ts.endsWith('[]') ? ts + '[]'.repeat(column.dims - 1) : ts;
  // `unknown` already includes null.
  return column.notNull || typed === 'unknown' ? typed : `${typed} | null`;
}

/** `orders` → Orders, `order_items` → OrderItems, `billing.invoices` → BillingInvoices. */
function interfaceName(schema: string, table: string): string {
  const words = (schema === 'public' ? table : `${schema} ${table}`).split(/[^\p{L}\p{Nd}]+/u).filter(Boolean);
  const name = words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
  return /^\p{L}/u.test(name) ? name : `Table${name}`;
}

function tableKey(schema: string, table: string): string {
  return schema === 'public' ? table : `${schema}.${table}`;
}

export function renderTypes({ tables, types }: TypeSources): string {
  const sorted = tables
    .map((table) => ({ table, key: tableKey(table.schema, table.name) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const taken = new Set(['RowcastTables']);
  const blocks: string[] = [];
  const entries: string[] = [];
  for (const { table, key } of sorted) {
    // Distinct tables may share a name once punctuation is gone (order_items, "order-items").
    const base = interfaceName(table.schema, table.name);
    let name = base;
    for (let n = 2; taken.has(name); n += 1) name = `${base}${n}`;
    taken.add(name);
    const fields = table.columns.map((c) => `  ${propertyName(c.name)}: ${columnType(c, types)};\n`).join('');
    blocks.push(`export interface ${name} {\n${fields}}\n`);
    entries.push(`  ${propertyName(key)}: ${name};\n`);
  }
  const map = `/** Table name (schema-qualified outside \`public\`) → row type. */\nexport interface RowcastTables {\n${entries.join('')}}\n`;
  return [HEADER, ...blocks, map].join('\n');
}

export async function readTypeSources(pool: pg.Pool): Promise<TypeSources> {
  const { rows: columns } = await pool.query<{
    table_schema: string;
    table_name: string;
    name: string;
    type_oid: number;
    not_null: boolean;
    virtual: boolean;
    dims: number;
    typmod: number;
  }>(
    // A NOT NULL added NOT VALID (PostgreSQL 18) sets attnotnull, and older rows may still be null.
    `select e.table_schema, e.table_name, a.attname as name, a.atttypid as type_oid,
            a.attnotnull and not exists (select from pg_constraint k
                                          where k.conrelid = c.oid and k.contype = 'n' and not k.convalidated
                                            and a.attnum = any (k.conkey)) as not_null,
            a.attgenerated = 'v' as virtual, a.attndims as dims, a.atttypmod as typmod
       from rowcast.exposed_tables e
       join pg_namespace n on n.nspname = e.table_schema
       join pg_class c on c.relnamespace = n.oid and c.relname = e.table_name
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      order by e.table_schema, e.table_name, a.attnum`,
  );
  const tables = new Map<string, TableSource>();
  for (const row of columns) {
    const key = `${row.table_schema}.${row.table_name}`;
    let table = tables.get(key);
    if (!table) tables.set(key, (table = { schema: row.table_schema, name: row.table_name, columns: [] }));
    table.columns.push({ name: row.name, typeOid: row.type_oid, notNull: row.not_null, virtual: row.virtual, dims: row.dims, typmod: row.typmod });
  }
  // The column types and every type they are built on (domain bases, array elements).
  const { rows: typeRows } = await pool.query<PgType>(
    `with recursive reachable(oid) as (
       select unnest($1::oid[])
       union
       select x.oid from reachable r join pg_type t on t.oid = r.oid
         cross join lateral unnest(array[t.typbasetype, t.typelem]) as x(oid)
        where x.oid <> 0
     )
     select t.oid, t.typname as name, n.nspname as schema, t.typtype as kind, t.typcategory as category,
            t.typbasetype as base, t.typtypmod as typmod, t.typelem as element,
            (select array_agg(e.enumlabel::text order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid) as labels,
            exists (select 1 from pg_cast k
                     where k.castsource = t.oid and k.casttarget in ('json'::regtype, 'jsonb'::regtype)) as "jsonCast"
       from reachable r
       join pg_type t on t.oid = r.oid
       join pg_namespace n on n.oid = t.typnamespace`,
    [[...new Set(columns.map((c) => c.type_oid))]],
  );
  return { tables: [...tables.values()], types: new Map(typeRows.map((t) => [t.oid, t])) };
}
