/**
 * vitest fixtures over a real PostgreSQL: `database` is a fresh database of
 * the run's PostgreSQL, `rowcast` a Rowcast server on it, listening on a real
 * port of 127.0.0.1.
 */
import { pino } from 'pino';
import { inject, test as base } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { startRowcast, type RowcastServer } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export function testConfig(databaseUrl: string, overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({ DATABASE_URL: databaseUrl, PORT: '0' }), ...overrides };
}

export const silentLog = pino({ level: 'silent' });

export async function startTestServer(databaseUrl: string, overrides: Partial<Config> = {}): Promise<RowcastServer> {
  return startRowcast(testConfig(databaseUrl, overrides), silentLog);
}

export const test = base.extend<{ database: TestDatabase; rowcast: RowcastServer }>({
  // biome-ignore lint: vitest fixtures take a destructured first argument
  database: async ({}, use) => {
    const { database, drop } = await createTestDatabase(inject('adminDatabaseUrl'));
    await use(database);
    await drop();
  },
  rowcast: async ({ database }, use) => {
    const server = await startTestServer(database.url);
    await use(server);
    await server.close();
  },
});

export { expect, describe } from 'vitest';
