/**
 * The bench's own PostgreSQL: an embedded one in a throw-away directory on a
 * free port, plus the control tables the figures are compared with.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { freePort } from './processes.js';

export interface BenchPostgres {
  url: string;
  port: number;
  password: string;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<BenchPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'rowcast-bench-'));
  // As root, PostgreSQL runs as `postgres`, which must be able to enter the directory.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const embedded = await startEmbeddedPostgres({ dataDir: dir, port, ephemeral: true });
  return {
    url: embedded.url,
    port,
    password: decodeURIComponent(new URL(embedded.url).password),
    stop: async () => {
      await embedded.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function openPool(url: string, max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'rowcast-bench' });
  pool.on('error', () => {});
  return pool;
}

/** The control tables; run once the server has created `orders`. */
export async function createControlTables(pool: pg.Pool): Promise<void> {
  await pool.query(`
    create table if not exists orders_plain (like orders including all);
    -- The naive change feed: one NOTIFY per row, carrying the row.
    create table if not exists orders_notify (like orders including all);
    create or replace function bench_notify_row() returns trigger language plpgsql as $$
    begin
      perform pg_notify('bench_rows', row_to_json(new)::text);
      return null;
    end $$;
    drop trigger if exists bench_notify on orders_notify;
    create trigger bench_notify after insert on orders_notify for each row execute function bench_notify_row();
    -- The floor of trigger capture: a row trigger writing each new row to a
    -- log table with one index, no server reading it (W5's second column)…
    create table if not exists bench_change_log (
      seq bigint generated always as identity primary key,
      table_name text not null, op text not null, "row" json not null
    );
    create table if not exists orders_log (like orders including all);
    create or replace function bench_log_row() returns trigger language plpgsql as $$
    begin
      insert into bench_change_log (table_name, op, "row") values (tg_table_name, tg_op, to_json(new));
      return null;
    end $$;
    drop trigger if exists bench_log on orders_log;
    create trigger bench_log after insert on orders_log for each row execute function bench_log_row();
    -- …and the same with a NOTIFY in every transaction (the third).
    create table if not exists orders_log_notify (like orders including all);
    create or replace function bench_log_row_notify() returns trigger language plpgsql as $$
    begin
      insert into bench_change_log (table_name, op, "row") values (tg_table_name, tg_op, to_json(new));
      perform pg_notify('bench_log', '');
      return null;
    end $$;
    drop trigger if exists bench_log_notify on orders_log_notify;
    create trigger bench_log_notify after insert on orders_log_notify for each row execute function bench_log_row_notify();
  `);
}

/**
 * Empties the tables and the change log between workloads, so each starts
 * from the same size. Only while no workload runs; the sequencer's state
 * stays, so a running server's cursor remains valid. The server may still be
 * reading the log: TRUNCATE can then deadlock with it or wait, so it gives up
 * its locks quickly and retries (bounded).
 */
export async function resetTables(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query('begin');
        await client.query("set local lock_timeout = '2s'");
        await client.query('truncate orders, orders_plain, orders_notify, orders_log, orders_log_notify, bench_change_log, notifications, rowcast.changes, rowcast.transactions');
        await client.query('commit');
        break;
      } catch (error) {
        await client.query('rollback');
        const code = (error as { code?: string }).code;
        // 40P01 deadlock, 55P03 lock timeout.
        if (attempt >= 5 || (code !== '40P01' && code !== '55P03')) throw error;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  } finally {
    client.release();
  }
  await pool.query('vacuum analyze orders, orders_plain, orders_log, orders_log_notify, bench_change_log, notifications, rowcast.changes, rowcast.transactions, rowcast.sequencer');
}

export const ORDER_COLUMNS = 'order_number, customer_name, total, status';

/** One statement inserting `rows` orders into `table`. */
export function bulkInsert(table: string, rows = 1000): string {
  return `insert into ${table} (${ORDER_COLUMNS})
    select 'ORD-' || g, 'Customer ' || g, (g % 1000) * 1.25, 'pending' from generate_series(1, ${rows}) g`;
}

/** One single-row insert into `table` ($1: order number). */
export function singleInsert(table: string): string {
  return `insert into ${table} (${ORDER_COLUMNS}) values ($1, 'Customer', 12.50, 'pending')`;
}

/** `rows` notifications spread round-robin over `users` users u0…u(users-1). */
export function notificationsInsert(users: number, rows = 1000): string {
  return `insert into notifications (user_id, kind, title, message)
    select 'u' || (g % ${users}), 'bench', 'Notification ' || g, 'Your order has shipped' from generate_series(0, ${rows - 1}) g`;
}
