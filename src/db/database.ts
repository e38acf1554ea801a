/** The connection pool and the typed query builder over Rowcast's own tables. */
import { Kysely, PostgresDialect, type ColumnType, type Generated } from 'kysely';
import pg from 'pg';

/** int8 values arrive as strings from pg; Rowcast keeps positions below 2^53. */
type Int8 = ColumnType<string, number | string, number | string>;

export interface RowcastTables {
  'rowcast.changes': {
    seq: Generated<Int8>;
    xid: Generated<string>;
    table_schema: string;
    table_name: string;
    op: 'INSERT' | 'UPDATE' | 'DELETE';
    row: unknown;
    old: unknown | null;
  };
  'rowcast.transactions': { pos: Int8; xid: string; committed_at: Date };
  'rowcast.sequencer': {
    singleton: Generated<boolean>;
    head_pos: Int8;
    in_progress: string[];
    snapshot_xmax: string;
    pruned_pos: Int8;
    pruned_seq: Int8;
  };
  'rowcast.registry': { singleton: Generated<boolean>; version: Int8 };
  'rowcast.exposed_tables': {
    table_schema: string;
    table_name: string;
    read_roles: string[] | null;
    owner_column: string | null;
    exposed_at: Generated<Date>;
    relid: number | null;
    history_after_seq: Generated<Int8>;
  };
}

export interface Database {
  readonly pool: pg.Pool;
  readonly db: Kysely<RowcastTables>;
  close(): Promise<void>;
}

export function openDatabase(url: string, options: { max?: number } = {}): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5000,
    application_name: 'rowcast',
  });
  // A client losing its connection (PostgreSQL restart) must not crash the
  // process. pg-pool handles idle clients; a checked-out client has no error
  // listener of its own, and its socket error would be an unhandled 'error'
  // event. The query in flight still fails, and the pool drops the client.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<RowcastTables>({ dialect: new PostgresDialect({ pool }) });
  return {
    pool,
    db,
    close: () => db.destroy(),
  };
}
