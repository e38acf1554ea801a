/** A database of its own for one test, inside the run's PostgreSQL. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDatabase {
  readonly url: string;
  /** A pool of its own: writes come from connections other than the server's. */
  readonly pool: pg.Pool;
  query<R extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export async function createTestDatabase(adminUrl: string): Promise<{ database: TestDatabase; drop(): Promise<void> }> {
  const name = `rowcast_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 12 });
  pool.on('error', () => {});
  const database: TestDatabase = {
    url: url.toString(),
    pool,
    query: (text, values) => pool.query(text, values as unknown[]),
  };
  return {
    database,
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
