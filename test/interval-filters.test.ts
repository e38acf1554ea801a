/**
 * Interval filters compare as PostgreSQL compares intervals (README
 * "Filters"): by length, a month as 30 days, whatever IntervalStyle the
 * writer's session used for to_json. PostgreSQL is the oracle: each filter's
 * rows are what `where d <op> $1::interval` selects, and Rowcast must deliver
 * exactly those, live over WebSocket and on /changes.
 */
import type pg from 'pg';
import { describe, expect, test } from './support/fixtures.js';
import { getJson } from './support/tokens.js';
import { waitFor } from './support/wait.js';
import { FilterProbe } from './support/filter-probe.js';
import { TestWsClient } from './support/ws-client.js';

/** Rows written in each IntervalStyle, each value in the style's own spelling as well as in others. */
const ROWS: Array<[style: string, value: string | null]> = [
  ['postgres', '1 mon'],
  ['postgres', '30 days'],
  ['postgres', '720:00:00'],
  ['postgres', '1 day -02:00:00'],
  ['postgres', '-1 days +02:00:00'],
  ['postgres', '1.5 years'],
  ['postgres', '0'],
  ['postgres', '00:00:00.000001'],
  ['postgres', '-00:00:00.000001'],
  ['postgres', 'infinity'],
  ['postgres', '-infinity'],
  ['postgres', null],
  ['postgres', '2147483647 days 2147483647 mons'],
  ['postgres', '-178956970 years'],
  ['postgres_verbose', '1 day -02:00:00'],
  ['postgres_verbose', '-1 year -2 mons +3 days -04:05:06.789'],
  ['postgres_verbose', '-0.5 sec'],
  ['sql_standard', '-3 days -04:05:06'],
  ['sql_standard', '1 year 2 mons'],
  ['sql_standard', '-1 year -2 mons'],
  ['sql_standard', '1 year -3 days 04:05:06'],
  ['sql_standard', '-04:05:06'],
  ['iso_8601', '1 year 2 mons -3 days 04:05:06.789'],
  ['iso_8601', '-0.5 sec'],
  ['iso_8601', '0'],
  ['postgres', '1.234 sec'],
  ['postgres', '1.2349 sec'],
  ['postgres', '-0.005 sec'],
  ['iso_8601', '1.235 sec'],
  ['postgres', '5 minutes 3 seconds'],
  ['postgres', '5 seconds'],
];

/** Filter values as a user writes them, read by PostgreSQL in its default style. */
const VALUES = [
  '30 days',
  '1 mon',
  'P1M',
  '720 hours',
  '0',
  '@ 0',
  '1 day ago',
  '22:00:00',
  '-22:00',
  '1-6',
  '18 mons',
  '1.5 years',
  '-3 4:05:06',
  '1 microsecond',
  '-1 us',
  'infinity',
  '-infinity',
  'P-1Y-2M3DT-4H-5M-6.789S',
  '1 year 2 mons -3 days 4 hours 5 mins 6.789 secs',
  '-0.5 seconds',
  '2 weeks 3.5 days',
];
const OPS = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte'] as const;
const SQL_OP: Record<(typeof OPS)[number], string> = { eq: '=', neq: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' };

/** Each row from a session set to its style, so to_json writes the value in that style. */
async function writeRows(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    for (const [style, value] of ROWS) {
      await client.query(`set intervalstyle = ${style}`);
      await client.query('insert into spans (d) values ($1::interval)', [value]);
    }
  } finally {
    client.release();
  }
}

async function oracle(database: { query(text: string, values?: unknown[]): Promise<{ rows: Array<{ id: number }> }> }, condition: string, value: unknown): Promise<number[]> {
  const { rows } = await database.query(`select id from spans where ${condition} order by id`, [value]);
  return rows.map((r) => r.id);
}

describe('interval filters', () => {
  test('every comparison selects what PostgreSQL selects, rows written in all four IntervalStyles', { timeout: 60_000 }, async ({ rowcast, database }) => {
    await database.query('create table spans (id serial primary key, d interval, dp interval(2) generated always as (d) stored, dm interval minute generated always as (d) stored)');
    await database.query("select rowcast.expose('public.spans')");
    await waitFor(async () => (await getJson(`${rowcast.url}/tables`)).json?.tables?.some((t: { name: string }) => t.name === 'spans'), { what: 'spans to be served' });

    const cases: Array<{ column?: string; filter: string; sql: string; value: unknown }> = [];
    for (const value of VALUES) for (const op of OPS) cases.push({ filter: `${op}.${value}`, sql: `d ${SQL_OP[op]} $1::interval`, value });
    cases.push({ filter: 'in.(30 days,1 day ago,infinity)', sql: 'd = any($1::interval[])', value: ['30 days', '1 day ago', 'infinity'] });
    cases.push({ filter: 'is.null', sql: 'd is null and $1::int is null', value: null });
    // interval(2) and interval minute: stored values are rounded or cut to the modifier, a compared value is not
    // (PostgreSQL types the literal of `dp = '1.234 sec'` as interval); so '5' is 5 seconds, not 5 minutes.
    for (const value of ['1.234 sec', '1.23 sec', '-0.005 sec', '-0.01 sec', '5', '5 minutes']) {
      for (const op of ['eq', 'lt', 'gte'] as const) {
        for (const column of ['dp', 'dm']) cases.push({ column, filter: `${op}.${value}`, sql: `${column} ${SQL_OP[op]} $1::interval`, value });
      }
    }

    const probe = await FilterProbe.open(rowcast.url, 'spans', cases.map(({ column = 'd', filter }) => ({ [column]: filter })));
    await writeRows(database.pool);
    await database.query("insert into spans (d) values ('5 centuries')");
    await probe.waitForRow((await oracle(database, 'd = $1::interval', '5 centuries'))[0]);

    const got: Record<string, { live: unknown[]; polled: unknown[] }> = {};
    const want: Record<string, { live: unknown[]; polled: unknown[] }> = {};
    for (const [i, { column = 'd', filter, sql, value }] of cases.entries()) {
      const ids = await oracle(database, sql, value);
      got[`${column}=${filter}`] = { live: probe.live(i), polled: await probe.polled({ [column]: filter }) };
      want[`${column}=${filter}`] = { live: ids, polled: ids };
    }
    expect(got).toEqual(want);
    // The oracle is not vacuous: the values tell the rows apart.
    expect(new Set(Object.values(want).map((w) => w.live.join(','))).size).toBeGreaterThan(20);
    probe.close();
  });

  test('a value PostgreSQL does not read as an interval is refused, over HTTP and WebSocket', async ({ rowcast, database }) => {
    await database.query('create table spans (id serial primary key, d interval)');
    await database.query("select rowcast.expose('public.spans')");
    await waitFor(async () => (await getJson(`${rowcast.url}/tables`)).json?.tables?.some((t: { name: string }) => t.name === 'spans'), { what: 'spans to be served' });
    const refused = ['soon', '1 hour 2 hours', '1:60', '2 ago', '2147483648 days', '1 day ago ago', 'P1D2H', '1.5 sec 5 ms'];
    for (const value of refused) {
      await expect(database.query('select $1::interval', [value]), value).rejects.toThrow();
      const { status } = await getJson(`${rowcast.url}/changes/spans?d=${encodeURIComponent(`eq.${value}`)}`);
      expect(status, value).toBe(400);
    }
    const ws = await TestWsClient.connect(rowcast.url);
    ws.send({ type: 'subscribe', id: 'bad', table: 'spans', filter: { d: 'gt.1 hour 2 hours' } });
    const error = await ws.waitFor((m) => m.type === 'error' && m.ref === 'bad');
    expect(error).toMatchObject({ code: 'invalid_message' });
    ws.close();
  });
});
