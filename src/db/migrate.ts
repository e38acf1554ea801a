/**
 * Schema setup: the versioned migrations of sql/ (applied once each, in
 * order, recorded by Kysely's Migrator), then the capture SQL of triggers/
 * (create or replace, applied at every start).
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { RowcastError } from '../errors.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SQL_DIR = join(ROOT, 'sql');
export const TRIGGERS_DIR = join(ROOT, 'triggers');

/** Arbitrary constant: serializes trigger installation across instances starting together. */
const INSTALL_LOCK = 0x726f7763;

async function sqlFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
}

/** Each sql/NNNN_name.sql file is one migration, named by its file. */
class SqlFileMigrationProvider implements MigrationProvider {
  constructor(private readonly dir: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const file of await sqlFiles(this.dir)) {
      const text = await readFile(join(this.dir, file), 'utf8');
      migrations[file.replace(/\.sql$/, '')] = {
        up: async (db) => {
          await sql.raw(text).execute(db);
        },
      };
    }
    return migrations;
  }
}

export interface MigrationReport {
  applied: string[];
}

export async function migrate(db: Kysely<any>): Promise<MigrationReport> {
  const migrator = new Migrator({
    db,
    provider: new SqlFileMigrationProvider(SQL_DIR),
    migrationTableSchema: 'rowcast',
    migrationTableName: 'migrations',
    migrationLockTableName: 'migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new RowcastError(
      'unavailable',
      `migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${INSTALL_LOCK})`.execute(trx);
    for (const file of await sqlFiles(TRIGGERS_DIR)) {
      await sql.raw(await readFile(join(TRIGGERS_DIR, file), 'utf8')).execute(trx);
    }
  });
  return { applied };
}
