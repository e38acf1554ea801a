/**
 * One PostgreSQL for the whole run: DATABASE_URL when set, else an embedded
 * one (real binaries from the npm registry) in a throw-away directory. Each
 * test gets a database of its own inside it (see fixtures.ts).
 */
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { freePort } from './ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.DATABASE_URL) {
    project.provide('adminDatabaseUrl', process.env.DATABASE_URL);
    return async () => {};
  }
  const dir = mkdtempSync(join(tmpdir(), 'rowcast-test-'));
  // PostgreSQL runs as `postgres` when we are root: it must reach the directory.
  chmodSync(dir, 0o755);
  const pg = await startEmbeddedPostgres({ dataDir: dir, port: await freePort(), ephemeral: true });
  project.provide('adminDatabaseUrl', pg.url);
  return () => pg.stop();
}
