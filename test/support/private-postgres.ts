/**
 * A PostgreSQL of one test file's own, in a temporary directory, that the
 * test may stop and start again on the same data and port (the run's shared
 * PostgreSQL serves other files in parallel and must stay up). It is also
 * quiet: no other test's transactions complete in it.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { freePort } from './ports.js';

export class PrivatePostgres {
  private running: EmbeddedDatabase | null = null;
  private adminUrl = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'rowcast-private-pg-'));
    // PostgreSQL runs as `postgres` when we are root: it must reach the directory.
    chmodSync(dir, 0o755);
    const pg = new PrivatePostgres(dir, await freePort());
    await pg.startAgain();
    return pg;
  }

  get up(): boolean {
    return this.running !== null;
  }

  /** Starts it (again) on the same data directory and port. */
  async startAgain(): Promise<void> {
    if (this.running) return;
    this.running = await startEmbeddedPostgres({ dataDir: this.dir, port: this.port, ephemeral: false });
    this.adminUrl = this.running.url;
  }

  /** Stops it (fast shutdown: sessions are cut), keeping the data. */
  async stop(): Promise<void> {
    const running = this.running;
    this.running = null;
    await running?.stop();
  }

  /** A fresh database inside it, with a pool of its own for writes. */
  createDatabase(): Promise<{ database: TestDatabase; drop(): Promise<void> }> {
    return createTestDatabase(this.adminUrl);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
