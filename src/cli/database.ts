/**
 * The database a CLI command works on: DATABASE_URL, else the embedded
 * PostgreSQL of `npm start` (joined if a server runs it, else started for
 * the command and stopped after).
 */
import { sql } from 'kysely';
import type { Config } from '../config.js';
import { openDatabase, type Database } from '../db/database.js';
import { accessEmbeddedPostgres, type EmbeddedAccess } from '../db/embedded-access.js';
import { RowcastError } from '../errors.js';

export interface DatabaseNeeds {
  /** Refuse a database without Rowcast's schema (every command but migrate). */
  requireInstalled: boolean;
}

function describeTarget(url: string): string {
  const where = new URL(url);
  return `${where.hostname}:${where.port || 5432}`;
}

/** Stops an embedded PostgreSQL this command started, also on Ctrl-C, so none is left behind. */
function releaseOnce(embedded: EmbeddedAccess | null): { release(): Promise<void>; dispose(): void } {
  let released: Promise<void> | null = null;
  const release = () => (released ??= embedded?.release() ?? Promise.resolve());
  const interrupted = () => void release().finally(() => process.exit(130));
  if (embedded?.started) {
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
  }
  return {
    release,
    dispose: () => {
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
    },
  };
}

export async function withDatabase<T>(config: Config, needs: DatabaseNeeds, work: (database: Database) => Promise<T>): Promise<T> {
  let embedded: EmbeddedAccess | null = null;
  if (!config.databaseUrl) {
    embedded = await accessEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, create: !needs.requireInstalled });
  }
  const url = config.databaseUrl ?? embedded!.url;
  const cleanup = releaseOnce(embedded);
  const database = openDatabase(url, { max: 2 });
  try {
    try {
      await sql`select 1`.execute(database.db);
    } catch (cause) {
      throw new RowcastError('unavailable', `cannot reach PostgreSQL at ${describeTarget(url)}: ${(cause as Error).message}`, { cause });
    }
    if (needs.requireInstalled) {
      const { rows } = await database.pool.query<{ installed: boolean }>(
        "select to_regclass('rowcast.exposed_tables') is not null as installed",
      );
      if (!rows[0]?.installed) {
        throw new RowcastError(
          'unavailable',
          `Rowcast is not installed in the database at ${describeTarget(url)}: run \`rowcast migrate\` (or start the server) first`,
        );
      }
    }
    return await work(database);
  } finally {
    await database.close().catch(() => {});
    await cleanup.release();
    cleanup.dispose();
  }
}
