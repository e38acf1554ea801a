/**
 * The `rowcast` commands as subprocesses: exit codes (0 ok, 1 runtime
 * failure, 2 usage or configuration), one-line errors, and what each command
 * does to a fresh database.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from './support/fixtures.js';
import type { TestDatabase } from './support/database.js';
import { freePort } from './support/ports.js';
import { ROOT, runCli, startServerProcess } from './support/server-process.js';
import { waitFor } from './support/wait.js';

const env = (database: TestDatabase) => ({ DATABASE_URL: database.url });

async function cli(args: string[], database: TestDatabase) {
  return runCli(args, env(database));
}

/** A fresh database with Rowcast installed, through the CLI itself. */
async function migrated(database: TestDatabase): Promise<void> {
  const result = await cli(['migrate'], database);
  expect(result, result.stderr).toMatchObject({ code: 0 });
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

async function ruleRow(database: TestDatabase, table: string) {
  const { rows } = await database.query(
    'select read_roles, owner_column from rowcast.exposed_tables where table_schema = $1 and table_name = $2',
    ['public', table],
  );
  return rows[0] ?? null;
}

describe('usage', () => {
  const COMMANDS = ['serve', 'expose', 'unexpose', 'list', 'migrate', 'types', 'check-config'];

  test('rowcast --help lists every command', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    for (const command of COMMANDS) expect(result.stdout).toContain(`  ${command}`);
  });

  for (const command of COMMANDS) {
    test(`rowcast ${command} --help`, async () => {
      const result = await runCli([command, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^Usage: rowcast ${command}`));
      expect(result.stderr).toBe('');
    });
  }

  const USAGE_ERRORS: Array<[string[], RegExp]> = [
    [['expose', 'public.invoices', '--bogus'], /unknown option '--bogus'/],
    [['expose', 'public.invoices', '--roles', 'a', '--owner-column', 'c'], /'--roles <roles>' cannot be used with option '--owner-column <column>'/],
    [['expose', 'public.invoices', '--roles', 'a', '--public'], /'--roles <roles>' cannot be used with option '--public'/],
    [['expose', 'public.invoices', '--owner-column', 'c', '--public'], /'--owner-column <column>' cannot be used with option '--public'/],
    [['expose', 'public.invoices', '--roles', 'admin,,staff'], /expected role names separated by commas/],
    [['expose'], /missing required argument 'table'/],
    [['unexpose', 'a', 'b'], /too many arguments/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, message] of USAGE_ERRORS) {
    test(`rowcast ${args.join(' ')} is a usage error: exit 2, one line`, async () => {
      const result = await runCli(args, { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/never-reached' });
      expect(result.code).toBe(2);
      expect(oneLine(result.stderr)).toMatch(/^rowcast: /);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
    });
  }
});

describe('migrate', { timeout: 60_000 }, () => {
  test('installs Rowcast once; running it again changes nothing', async ({ database }) => {
    const first = await cli(['migrate'], database);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('applied migrations: 0001_change_log');
    const second = await cli(['migrate'], database);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('no pending migrations');
    const { rows } = await database.query('select table_name from rowcast.exposed_tables order by 1');
    expect(rows.map((r) => r.table_name)).toEqual(['notifications', 'orders', 'posts']);
  });

  test('other commands refuse a database without Rowcast: exit 1, one line', async ({ database }) => {
    for (const args of [['list'], ['types'], ['expose', 'public.orders']]) {
      const result = await cli(args, database);
      expect(result.code).toBe(1);
      expect(oneLine(result.stderr)).toMatch(/^rowcast: Rowcast is not installed in the database at .*: run `rowcast migrate`/);
    }
  });

  test('an unreachable database: exit 1, one line', async () => {
    const result = await runCli(['list'], { DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' });
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/^rowcast: cannot reach PostgreSQL at 127\.0\.0\.1:1: /);
  });
});

describe('expose, unexpose, list', { timeout: 60_000 }, () => {
  test('each read rule lands in rowcast.exposed_tables and in list', async ({ database }) => {
    await migrated(database);
    for (const table of ['inv_roles', 'inv_owner', 'inv_public', 'inv_default']) {
      await database.query(`create table public.${table} (id bigserial primary key, customer_id text)`);
    }
    const runs = [
      [['expose', 'public.inv_roles', '--roles', 'admin, staff'], 'exposed public.inv_roles, read rule: roles (admin, staff)'],
      [['expose', 'public.inv_owner', '--owner-column', 'customer_id'], 'exposed public.inv_owner, read rule: owner (customer_id)'],
      [['expose', 'public.inv_public', '--public'], 'exposed public.inv_public, read rule: authenticated'],
      [['expose', 'inv_default'], 'exposed public.inv_default, read rule: authenticated'],
    ] as const;
    for (const [args, said] of runs) {
      const result = await cli([...args], database);
      expect(result, result.stderr).toMatchObject({ code: 0, stdout: `${said}\n` });
    }
    expect(await ruleRow(database, 'inv_roles')).toEqual({ read_roles: ['admin', 'staff'], owner_column: null });
    expect(await ruleRow(database, 'inv_owner')).toEqual({ read_roles: null, owner_column: 'customer_id' });
    expect(await ruleRow(database, 'inv_public')).toEqual({ read_roles: null, owner_column: null });
    expect(await ruleRow(database, 'inv_default')).toEqual({ read_roles: null, owner_column: null });

    const list = await cli(['list'], database);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n').map((l) => l.replace(/\s+/g, ' ').trim())).toEqual([
      'public.inv_default authenticated',
      'public.inv_owner owner (customer_id)',
      'public.inv_public authenticated',
      'public.inv_roles roles (admin, staff)',
      'public.notifications owner (user_id)',
      'public.orders roles (admin, staff)',
      'public.posts authenticated',
      '',
    ]);
    const json = JSON.parse((await cli(['list', '--json'], database)).stdout);
    expect(json.tables).toContainEqual({
      schema: 'public',
      name: 'inv_owner',
      read_rule: 'owner',
      roles: null,
      owner_column: 'customer_id',
      present: true,
    });
  });

  test('re-exposing changes the rule and says what it was; the capture triggers stay single', async ({ database }) => {
    await migrated(database);
    const first = await cli(['expose', 'public.posts', '--roles', 'staff'], database);
    expect(first.stdout).toBe('exposed public.posts, read rule: roles (staff) (was: authenticated)\n');
    const again = await cli(['expose', 'public.posts', '--roles', 'staff'], database);
    expect(again.stdout).toBe('exposed public.posts, read rule: roles (staff)\n');
    expect(await ruleRow(database, 'posts')).toEqual({ read_roles: ['staff'], owner_column: null });
    const { rows } = await database.query("select count(*)::int as n from pg_trigger where tgrelid = 'public.posts'::regclass and tgname like 'rowcast_capture_%'");
    expect(rows[0].n).toBe(3);
  });

  test('a table without primary key, a missing table or column: exit 1 with one clear line', async ({ database }) => {
    await migrated(database);
    await database.query('create table public.no_pk (a int)');
    const cases: Array<[string[], string]> = [
      [['expose', 'public.no_pk'], 'rowcast: cannot expose public.no_pk: table public.no_pk has no primary key'],
      [['expose', 'public.nowhere'], 'rowcast: cannot expose public.nowhere: relation "public.nowhere" does not exist'],
      [['expose', 'public.orders', '--owner-column', 'nope'], 'rowcast: cannot expose public.orders: table public.orders has no column nope'],
      [['unexpose', 'public.nowhere'], 'rowcast: cannot unexpose public.nowhere: relation "public.nowhere" does not exist'],
    ];
    for (const [args, line] of cases) {
      const result = await cli(args, database);
      expect(result.code).toBe(1);
      expect(oneLine(result.stderr)).toBe(line);
    }
    expect(await ruleRow(database, 'no_pk')).toBeNull();
  });

  test('unexpose removes the table and its triggers; again, it is a no-op', async ({ database }) => {
    await migrated(database);
    const result = await cli(['unexpose', 'public.posts'], database);
    expect(result).toMatchObject({ code: 0, stdout: 'unexposed public.posts\n' });
    expect(await ruleRow(database, 'posts')).toBeNull();
    const { rows } = await database.query("select count(*)::int as n from pg_trigger where tgrelid = 'public.posts'::regclass and tgname like 'rowcast_capture_%'");
    expect(rows[0].n).toBe(0);
    expect((await cli(['list'], database)).stdout).not.toContain('public.posts');
    const again = await cli(['unexpose', 'public.posts'], database);
    expect(again).toMatchObject({ code: 0, stdout: 'public.posts was not exposed; nothing changed\n' });
  });
});

describe('types', { timeout: 60_000 }, () => {
  test('reproduces src/client/tables.ts for the demo tables', async ({ database }) => {
    await migrated(database);
    const result = await cli(['types'], database);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(readFileSync(join(ROOT, 'src', 'client', 'tables.ts'), 'utf8'));
  });

  test('its output type-checks a correct use and rejects a wrong one', async ({ database }) => {
    await migrated(database);
    await database.query(`
      create type invoice_status as enum ('open', 'paid');
      create domain cents as bigint not null;
      create table public.order_invoices (
        id uuid primary key default gen_random_uuid(), customer_id text, amount numeric(12,2) not null,
        paid boolean, tags text[], meta jsonb, issued_on date, status invoice_status, due cents, grid int[][],
        code text, doubled int generated always as (length(customer_id) * 2) virtual);
      alter table public.order_invoices add constraint code_given not null code not valid;
      create schema billing;
      create table billing.payments (id bigint primary key, invoice_id uuid not null, at timestamptz);
      select rowcast.expose('public.order_invoices');
      select rowcast.expose('billing.payments');`);
    const result = await cli(['types'], database);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`export interface OrderInvoices {
  id: string;
  customer_id: string | null;
  amount: number | 'NaN';
  paid: boolean | null;
  tags: (string | null)[] | null;
  meta: unknown;
  issued_on: string | null;
  status: 'open' | 'paid' | null;
  due: number | null;
  grid: (number | null)[][] | null;
  code: string | null;
  doubled: null;
}`);
    expect(result.stdout).toContain("  'billing.payments': BillingPayments;\n");

    const dir = mkdtempSync(join(tmpdir(), 'rowcast-types-'));
    try {
      writeFileSync(join(dir, 'rowcast-types.ts'), result.stdout);
      const good = `import type { BillingPayments, OrderInvoices, Posts, RowcastTables } from './rowcast-types.js';
export const invoice: OrderInvoices = {
  id: 'a6f1c0de-0000-4000-8000-000000000000', customer_id: null, amount: 12.5, paid: true, tags: ['x'],
  meta: { any: 'thing' }, issued_on: '2026-11-23', status: 'paid', due: 1250, grid: [[1, null]], code: null, doubled: null,
};
export const payment: RowcastTables['billing.payments'] = { id: 1, invoice_id: invoice.id, at: null };
export const same: BillingPayments = payment;
export const likes = (post: RowcastTables['posts']): number => (post.likes ?? 0) + 1;
export const posts: Posts[] = [];
`;
      const tsc = (file: string) =>
        spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', file], {
          cwd: dir,
          encoding: 'utf8',
        });
      writeFileSync(join(dir, 'good.ts'), good);
      const ok = tsc('good.ts');
      expect(ok.status, ok.stdout).toBe(0);
      writeFileSync(join(dir, 'bad.ts'), good.replace("status: 'paid'", "status: 'void'"));
      const bad = tsc('bad.ts');
      expect(bad.status).not.toBe(0);
      expect(bad.stdout).toMatch(/bad\.ts\(4,.*error TS2322: Type '"void"' is not assignable to type '"open" \| "paid"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('check-config', () => {
  test('prints the effective configuration without secrets', async () => {
    const result = await runCli(['check-config'], {
      DATABASE_URL: 'postgres://app:hunter2@db.internal:5433/app',
      ROWCAST_JWT_SECRET: 'top-secret-value',
      ROWCAST_RETENTION: '7d',
      PORT: '9090',
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^DATABASE_URL +postgres:\/\/app:\*\*\*@db\.internal:5433\/app$/m);
    expect(result.stdout).toMatch(/^PORT +9090$/m);
    expect(result.stdout).toMatch(/^ROWCAST_RETENTION +7d$/m);
    expect(result.stdout).toMatch(/^ROWCAST_JWT_SECRET +\(set, hidden\)$/m);
    expect(result.stdout).toMatch(/^authentication +JWT required/m);
    expect(result.stdout).not.toContain('hunter2');
    expect(result.stdout).not.toContain('top-secret-value');
  });

  const BAD: Array<[string, Record<string, string>]> = [
    ['PORT', { PORT: '99999' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://somewhere/db' }],
    ['ROWCAST_RETENTION', { ROWCAST_RETENTION: '3 fortnights' }],
    // Blank is not unset: Number(' ') would be port 0, a random port.
    ['PORT', { PORT: ' ' }],
    ['PORT', { PORT: '1e3' }],
    ['ROWCAST_MAX_CONNECTIONS', { ROWCAST_MAX_CONNECTIONS: '0x10' }],
    // Longer than an interval the prune can ask for: history would never be pruned.
    ['ROWCAST_RETENTION', { ROWCAST_RETENTION: '99999999999999d' }],
    ['ROWCAST_JWT_PUBLIC_KEY', { ROWCAST_JWT_PUBLIC_KEY: 'garbage' }],
    // Two ways of verifying tokens: the server would use one and refuse the other's tokens.
    ['ROWCAST_JWT_SECRET', { ROWCAST_JWT_SECRET: 'a-secret', ROWCAST_JWKS_URL: 'http://127.0.0.1:9/jwks.json' }],
  ];
  for (const [variable, bad] of BAD) {
    test(`a bad ${variable} (${JSON.stringify(bad[variable])}): exit 2, one line naming it`, async () => {
      const result = await runCli(['check-config'], bad);
      expect(result.code).toBe(2);
      expect(oneLine(result.stderr)).toMatch(new RegExp(`^rowcast: invalid configuration: ${variable} `));
      expect(result.stdout).toBe('');
    });
  }

  test('every problem is listed, one per line', async () => {
    const result = await runCli(['check-config'], { PORT: 'abc', ROWCAST_RETENTION: 'soon' });
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.join('\n')).toMatch(/PORT/);
    expect(lines.join('\n')).toMatch(/ROWCAST_RETENTION/);
  });

  test('the other commands refuse bad configuration with exit 2 too', async () => {
    const result = await runCli(['list'], { ROWCAST_EMBEDDED_PG_PORT: '0' });
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toMatch(/^rowcast: invalid configuration: ROWCAST_EMBEDDED_PG_PORT /);
  });
});

describe('the embedded database of npm start', () => {
  test('without ROWCAST_DATA_DIR, a command run in a subdirectory uses the .rowcast of the directory above it, as git finds .git', { timeout: 120_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'rowcast-root-'));
    chmodSync(root, 0o755);
    const deeper = join(root, 'src', 'deeper');
    mkdirSync(deeper, { recursive: true });
    const env = { DATABASE_URL: '', ROWCAST_DATA_DIR: '', ROWCAST_EMBEDDED_PG_PORT: String(await freePort()) };
    try {
      const migrate = await runCli(['migrate'], env, 90_000, root);
      expect(migrate, migrate.stderr).toMatchObject({ code: 0 });
      expect(existsSync(join(root, '.rowcast', 'pgdata', 'PG_VERSION'))).toBe(true);
      const list = await runCli(['list'], env, 60_000, deeper);
      expect(list, list.stderr).toMatchObject({ code: 0 });
      expect(list.stdout).toContain('public.posts');
      expect(existsSync(join(deeper, '.rowcast')), 'no second database made below').toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('started for a command and stopped after; joined while a server runs it', { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rowcast-cli-'));
    // PostgreSQL runs as `postgres` when we are root: it must reach the directory.
    chmodSync(dataDir, 0o755);
    const embedded = { DATABASE_URL: '', ROWCAST_DATA_DIR: dataDir, ROWCAST_EMBEDDED_PG_PORT: String(await freePort()) };
    const pidFile = join(dataDir, 'pgdata', 'postmaster.pid');
    try {
      const none = await runCli(['list'], embedded);
      expect(none.code).toBe(1);
      expect(oneLine(none.stderr)).toMatch(/there is no embedded database in .* yet/);

      const migrate = await runCli(['migrate'], embedded, 90_000);
      expect(migrate, migrate.stderr).toMatchObject({ code: 0 });
      expect(existsSync(pidFile)).toBe(false);
      const list = await runCli(['list'], embedded, 60_000);
      expect(list.stdout).toContain('public.posts');
      expect(existsSync(pidFile)).toBe(false);

      const server = await startServerProcess(embedded);
      try {
        const expose = await runCli(['expose', 'public.posts', '--roles', 'staff'], embedded);
        expect(expose, expose.stderr).toMatchObject({ code: 0 });
        await waitFor(
          async () => {
            const { tables } = (await (await fetch(`${server.url}/tables`)).json()) as { tables: Array<{ name: string; read_rule: string }> };
            return tables.find((t) => t.name === 'posts')?.read_rule === 'roles';
          },
          { timeoutMs: 2000, what: 'the server to see the new rule of posts' },
        );
        // The command left the server's PostgreSQL running.
        expect((await fetch(`${server.url}/health`)).status).toBe(200);
      } finally {
        server.kill('SIGTERM');
        await server.exited;
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
