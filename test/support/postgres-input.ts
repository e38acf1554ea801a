/**
 * PostgreSQL's input functions as an oracle for Rowcast's readers: what an
 * expression of `v` makes of each text, in one statement for all of them,
 * with errors caught per value (null: PostgreSQL refuses that text). Run in
 * UTC, as Rowcast reads a timestamptz without an offset.
 */
type Database = { query<R extends object = any>(text: string, values?: unknown[]): Promise<{ rows: R[] }> };

export async function postgresReads(database: Database, expression: string, texts: string[]): Promise<Array<string | null>> {
  await database.query(`create or replace function pg_temp.rowcast_read(v text) returns text language plpgsql set timezone = 'UTC' as $$
    begin return ${expression}; exception when others then return null; end $$`);
  const { rows } = await database.query<{ answer: string | null }>('select pg_temp.rowcast_read(v) as answer from unnest($1::text[]) with ordinality as t(v, i) order by i', [texts]);
  return rows.map((row) => row.answer);
}
