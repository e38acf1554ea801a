/**
 * `rowcast expose`, `unexpose` and `list`: thin wrappers over the SQL API of
 * triggers/capture.sql, so the CLI and a DBA's SQL behave the same (a running
 * server learns of both through rowcast_control).
 */
import type pg from 'pg';
import { RowcastError } from '../errors.js';
import type { ReadRule } from '../hub/authorization.js';

export interface ExposedEntry {
  schema: string;
  name: string;
  rule: ReadRule;
  /** False when the table was dropped after being exposed. */
  present: boolean;
}

export interface ExposeResult {
  key: string;
  rule: ReadRule;
  /** The rule before, when the table was already exposed. */
  previous: ReadRule | null;
}

interface RuleColumns {
  read_roles: string[] | null;
  owner_column: string | null;
}

function ruleOf(row: RuleColumns): ReadRule {
  if (row.read_roles) return { kind: 'roles', roles: row.read_roles };
  if (row.owner_column) return { kind: 'owner', column: row.owner_column };
  return { kind: 'authenticated' };
}

export function describeRule(rule: ReadRule): string {
  switch (rule.kind) {
    case 'authenticated':
      return 'authenticated';
    case 'roles':
      return `roles (${rule.roles.join(', ')})`;
    case 'owner':
      return `owner (${rule.column})`;
  }
}

/** PostgreSQL's message without the function-name prefix capture.sql puts on its own errors. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^rowcast\.(un)?expose: /, '');
}

async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** The table's schema and name as PostgreSQL resolves `table` (search_path, case folding). */
async function resolveTable(client: pg.PoolClient, table: string): Promise<{ schema: string; name: string }> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    `select n.nspname as schema, c.relname as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.oid = $1::regclass`,
    [table],
  );
  return rows[0]!;
}

async function currentRule(client: pg.PoolClient, schema: string, name: string): Promise<ReadRule | null> {
  const { rows } = await client.query<RuleColumns>(
    'select read_roles, owner_column from rowcast.exposed_tables where table_schema = $1 and table_name = $2',
    [schema, name],
  );
  return rows[0] ? ruleOf(rows[0]) : null;
}

export async function exposeTable(pool: pg.Pool, table: string, rule: ReadRule): Promise<ExposeResult> {
  try {
    return await inTransaction(pool, async (client) => {
      const { schema, name } = await resolveTable(client, table);
      const previous = await currentRule(client, schema, name);
      await client.query('select rowcast.expose($1::regclass, roles => $2::text[], owner_column => $3::name)', [
        table,
        rule.kind === 'roles' ? rule.roles : null,
        rule.kind === 'owner' ? rule.column : null,
      ]);
      return { key: `${schema}.${name}`, rule, previous };
    });
  } catch (error) {
    throw new RowcastError('invalid_request', `cannot expose ${table}: ${reason(error)}`, { cause: error });
  }
}

/** Returns the rule the table had, or null when it was not exposed. Idempotent, like the SQL. */
export async function unexposeTable(pool: pg.Pool, table: string): Promise<{ key: string; previous: ReadRule | null }> {
  try {
    return await inTransaction(pool, async (client) => {
      const { schema, name } = await resolveTable(client, table);
      const previous = await currentRule(client, schema, name);
      await client.query('select rowcast.unexpose($1::regclass)', [table]);
      return { key: `${schema}.${name}`, previous };
    });
  } catch (error) {
    throw new RowcastError('invalid_request', `cannot unexpose ${table}: ${reason(error)}`, { cause: error });
  }
}

export async function listExposed(pool: pg.Pool): Promise<ExposedEntry[]> {
  const { rows } = await pool.query<RuleColumns & { table_schema: string; table_name: string; present: boolean }>(
    `select e.table_schema, e.table_name, e.read_roles, e.owner_column, c.oid is not null as present
       from rowcast.exposed_tables e
       left join pg_namespace n on n.nspname = e.table_schema
       left join pg_class c on c.relnamespace = n.oid and c.relname = e.table_name
      order by e.table_schema, e.table_name`,
  );
  return rows.map((row) => ({ schema: row.table_schema, name: row.table_name, rule: ruleOf(row), present: row.present }));
}

/** `list --json`: read_rule named as GET /tables names it. */
export function entryJson(entry: ExposedEntry) {
  const { rule } = entry;
  return {
    schema: entry.schema,
    name: entry.name,
    read_rule: rule.kind,
    roles: rule.kind === 'roles' ? rule.roles : null,
    owner_column: rule.kind === 'owner' ? rule.column : null,
    present: entry.present,
  };
}

/** `list` as aligned text: table, then its read rule. */
export function formatList(entries: readonly ExposedEntry[]): string {
  if (entries.length === 0) return 'no table is exposed\n';
  const keys = entries.map((e) => `${e.schema}.${e.name}`);
  const width = Math.max(...keys.map((k) => k.length));
  return entries
    .map((e, i) => `${keys[i]!.padEnd(width)}  ${describeRule(e.rule)}${e.present ? '' : '  (table no longer exists)'}\n`)
    .join('');
}
