/**
 * Filters compare as PostgreSQL would (README "Filters"): bigints past 2^53
 * and numerics by their exact digits; NaN and ±Infinity in PostgreSQL's
 * order; timestamps to the microsecond, whatever offset to_json wrote; array
 * columns of any element type on their JSON text; text by code point; times
 * of day, uuids, character(n) and enums as PostgreSQL compares them. Each
 * filter is checked live over WebSocket and on /changes, against rows written
 * through PostgreSQL. Also: what `rowcast types` says of those columns.
 */
import { readTypeSources, renderTypes } from '../src/cli/type-generator.js';
import type { RowcastServer } from '../src/server.js';
import { describe, expect, test } from './support/fixtures.js';
import { getJson } from './support/tokens.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

type Case = [column: string, condition: string, ids: number[]];

/** The status and message with which /changes refuses a filter. */
async function refusal(rowcast: RowcastServer, table: string, query: string): Promise<string> {
  const { status, json } = await getJson(`${rowcast.url}/changes/${table}?${query}`);
  return `${status} ${json?.error?.message}`;
}

async function expose(rowcast: RowcastServer, database: { query(text: string): Promise<unknown> }, ddl: string, table: string): Promise<void> {
  await database.query(ddl);
  await database.query(`select rowcast.expose('public.${table}')`);
  await waitFor(async () => (await getJson(`${rowcast.url}/tables`)).json?.tables?.some((t: { name: string }) => t.name === table), { what: `${table} to be served` });
}

/**
 * Subscribes one WebSocket subscription per case, runs the writes, then a
 * sentinel row of NULLs (id 999: it matches no comparison). Once the
 * unfiltered subscription has the sentinel, every case has had its rows (one
 * connection, in order). Then each case is read again from /changes.
 */
async function expectMatches(rowcast: RowcastServer, database: { query(text: string): Promise<unknown> }, table: string, writes: string, cases: Case[]): Promise<void> {
  const ws = await TestWsClient.connect(rowcast.url);
  const early = await ws.subscribe({ id: 'all', table });
  for (const [i, [column, condition]] of cases.entries()) await ws.subscribe({ id: `c${i}`, table, filter: { [column]: condition } });
  await database.query(writes);
  await database.query(`insert into ${table} (id) values (999)`);
  await ws.waitFor((m) => m.type === 'change' && m.sub === 'all' && m.row.id === 999);
  const got: Record<string, { live: unknown[]; polled: unknown[] }> = {};
  const want: Record<string, { live: number[]; polled: number[] }> = {};
  for (const [i, [column, condition, ids]] of cases.entries()) {
    const polled = await getJson(`${rowcast.url}/changes/${table}?since=${early}&${column}=${encodeURIComponent(condition)}`);
    got[`${column}=${condition}`] = { live: ws.changes(`c${i}`).map((c) => c.row.id), polled: polled.json.changes.map((c: { row: { id: number } }) => c.row.id) };
    want[`${column}=${condition}`] = { live: ids, polled: ids };
  }
  expect(got).toEqual(want);
  ws.close();
}

describe('numbers', () => {
  test('bigints past 2^53 and numerics beyond a double compare by their exact digits', async ({ rowcast, database }) => {
    await expose(rowcast, database, 'create table measures (id int primary key, big bigint, num numeric)', 'measures');
    await expectMatches(rowcast, database, 'measures', `insert into measures values
      (1, 9007199254740993, 0.1), (2, 9007199254740992, 0.10000000000000001), (3, -9223372036854775808, 0.09999999999999999999), (4, 9223372036854775807, 1e-30)`, [
      ['big', 'eq.9007199254740993', [1]],
      ['big', 'eq.9007199254740992', [2]],
      ['big', 'neq.9007199254740992', [1, 3, 4]],
      ['big', 'gt.9007199254740992', [1, 4]],
      ['big', 'lte.9007199254740992', [2, 3]],
      ['big', 'in.(9007199254740993,-9223372036854775808)', [1, 3]],
      ['big', 'eq.9223372036854775807', [4]],
      ['num', 'eq.0.1', [1]],
      ['num', 'eq.0.10000000000000001', [2]],
      ['num', 'gt.0.1', [2]],
      ['num', 'lt.0.1', [3, 4]],
      ['num', 'in.(0.10000000000000001,0.000000000000000000000000000001)', [2, 4]],
      ['num', 'gt.0', [1, 2, 3, 4]],
    ]);
  });

  test('the frames carry what to_json wrote, digit for digit: WebSocket, SSE and /changes', async ({ rowcast, database }) => {
    await expose(rowcast, database, 'create table measures (id int primary key, big bigint, num numeric)', 'measures');
    const ws = await TestWsClient.connect(rowcast.url);
    const frames: string[] = [];
    ws.socket.on('message', (data) => frames.push(data.toString()));
    const since = await ws.subscribe({ id: 'm', table: 'measures' });
    const sse = await fetch(`${rowcast.url}/sse/measures?since=${since}`);
    await database.query('insert into measures values (1, 9223372036854775807, 0.10000000000000000000000000000000000001)');
    const exact = '"big":9223372036854775807,"num":0.10000000000000000000000000000000000001';
    await waitFor(() => frames.some((f) => f.includes('"type":"change"')), { what: 'the change frame' });
    expect(frames.find((f) => f.includes('"type":"change"'))).toContain(exact);
    const polled = await (await fetch(`${rowcast.url}/changes/measures?since=${since}`)).text();
    expect(polled).toContain(exact);
    const reader = sse.body!.getReader();
    let streamed = '';
    await waitFor(async () => {
      streamed += new TextDecoder().decode((await reader.read()).value);
      return streamed.includes('event: change');
    }, { what: 'the SSE change event' });
    expect(streamed).toContain(exact);
    await reader.cancel();
    ws.close();
  });

  test('NaN and ±Infinity (strings in the row JSON) take part in numeric order as in PostgreSQL', async ({ rowcast, database }) => {
    await expose(rowcast, database, 'create table measures (id int primary key, num numeric, dbl double precision, flt real)', 'measures');
    await expectMatches(rowcast, database, 'measures', `insert into measures values
      (1, 'NaN', 'NaN', 'NaN'), (2, 'Infinity', 'Infinity', 'Infinity'), (3, '-Infinity', '-Infinity', '-Infinity'), (4, 0, 0, 0.1), (5, -1.5, 2.5, -1)`, [
      ['num', 'gt.0', [1, 2]],
      ['num', 'eq.NaN', [1]],
      ['num', 'neq.NaN', [2, 3, 4, 5]],
      ['num', 'gt.Infinity', [1]],
      ['num', 'gte.-Infinity', [1, 2, 3, 4, 5]],
      ['num', 'gt.-Infinity', [1, 2, 4, 5]],
      ['num', 'lt.Infinity', [3, 4, 5]],
      ['num', 'in.(Infinity,-1.5)', [2, 5]],
      ['dbl', 'gt.0', [1, 2, 5]],
      ['dbl', 'eq.NaN', [1]],
      ['dbl', 'lt.Infinity', [3, 4, 5]],
      ['dbl', 'eq.-Infinity', [3]],
      ['flt', 'lte.-1', [3, 5]],
      // A real is compared as the float4 it is, as PostgreSQL rounds the value to real.
      ['flt', 'eq.0.100000001490116119384765625', [4]],
    ]);
  });

  test('a filter value out of a type is refused with 400, in plain English', async ({ rowcast, database }) => {
    await expose(rowcast, database, 'create table measures (id int primary key, n integer, num numeric, dbl double precision, at timestamptz, nums integer[])', 'measures');
    expect(await refusal(rowcast, 'measures', 'n=eq.x')).toBe('400 filter on n: "x" is not an integer');
    expect(await refusal(rowcast, 'measures', 'num=eq.nana')).toBe('400 filter on num: "nana" is not a numeric');
    expect(await refusal(rowcast, 'measures', 'n=eq.1.5')).toBe('400 filter on n: "1.5" is not an integer');
    expect(await refusal(rowcast, 'measures', 'n=eq.2147483648')).toBe('400 filter on n: "2147483648" is not an integer');
    expect(await refusal(rowcast, 'measures', 'dbl=gt.1e400')).toBe('400 filter on dbl: "1e400" is not a double precision');
    // Names an object inherits are no special values.
    expect(await refusal(rowcast, 'measures', 'num=eq.__proto__')).toBe('400 filter on num: "__proto__" is not a numeric');
    expect(await refusal(rowcast, 'measures', 'at=eq.constructor')).toBe('400 filter on at: "constructor" is not a timestamp with time zone');
    expect(await refusal(rowcast, 'measures', 'nums=eq.[1,')).toBe('400 filter on nums: "[1," is not an integer[]');
    expect(await refusal(rowcast, 'measures', 'nums=lt.[1]')).toBe('400 filter on nums: lt does not apply to integer[]');
    // Spellings PostgreSQL's datetime input takes that Rowcast refuses, as the README says.
    for (const value of ['epoch', 'now', 'today', '20240101', '2024-01-01 10:00 PM', '2024-01-01 10:00 UTC', '2024-01-01 10:00 Europe/Paris', '2024-01-01 10:00 +02']) {
      expect(await refusal(rowcast, 'measures', `at=eq.${encodeURIComponent(value)}`)).toBe(`400 filter on at: "${value}" is not a timestamp with time zone`);
    }
  });
});

describe('timestamps', () => {
  test('compare to the microsecond, across the offsets and infinities to_json writes', async ({ rowcast, database }) => {
    await expose(rowcast, database, 'create table events (id int primary key, at timestamptz, wall timestamp, day date)', 'events');
    await expectMatches(rowcast, database, 'events', `
      insert into events values (1, '2024-01-01T10:00:00.123456Z', '2024-01-01T10:00:00.000001', '2024-01-01'),
        (2, '2024-01-01T10:00:00.1234Z', '2024-01-01T10:00:00', 'infinity'), (3, '2024-01-01T10:00:00.123Z', '12345-06-01T00:00:00', '0044-03-15 BC');
      begin; set local time zone 'America/New_York'; insert into events (id, at) values (4, '2024-01-01T10:00:00.123Z'), (5, 'infinity'); commit;
      begin; set local time zone 'Asia/Kolkata'; insert into events (id, at) values (6, '1900-01-01T00:00:00Z'), (7, '-infinity'); commit;`, [
      ['at', 'gt.2024-01-01T10:00:00.123Z', [1, 2, 5]],
      ['at', 'eq.2024-01-01T10:00:00.123Z', [3, 4]],
      ['at', 'lt.2024-01-01T10:00:00.1235Z', [1, 2, 3, 4, 6, 7]],
      ['at', 'gt.2024-01-01T10:00:00.1234Z', [1, 5]],
      ['at', 'eq.2024-01-01 15:30:00.1234+05:30', [2]],
      ['at', 'in.(2024-01-01T05:00:00.123456-05:00,1900-01-01T00:00:00Z)', [1, 6]],
      ['at', 'gte.infinity', [5]],
      ['at', 'eq.-infinity', [7]],
      ['wall', 'gt.2024-01-01T10:00:00', [1, 3]],
      ['wall', 'eq.2024-01-01T10:00:00.000001', [1]],
      ['day', 'lt.0001-01-01', [3]],
      ['day', 'gt.294276-12-31', [2]],
    ]);
  });
});

describe('times of day, uuids and character(n)', () => {
  test('time and timetz compare to the microsecond (timetz by UTC time, then offset), uuids as bytes, character(n) without its padding', async ({ rowcast, database }) => {
    await expose(rowcast, database, 'create table slots (id int primary key, t time, tz timetz, u uuid, c character(5))', 'slots');
    await expectMatches(rowcast, database, 'slots', `insert into slots values
      (1, '10:00', '10:00+02', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'ab'),
      (2, '10:00:00.5', '08:00+00', '00000000-0000-0000-0000-000000000001', 'abc'),
      (3, '24:00', '09:00:00.25-01', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'a'),
      (4, '9:30', '10:00:00+05:30:15', '{12345678-1234-5678-1234-567812345678}', 'ab  ');`, [
      // As text, '10:00' is not '10:00:00', which to_json writes.
      ['t', 'eq.10:00', [1]],
      ['t', 'gt.10:00', [2, 3]],
      ['t', 'lt.10:00:00.5', [1, 4]],
      ['t', 'eq.24:00:00', [3]],
      ['t', 'in.(09:30,10:00:00.500)', [2, 4]],
      // time drops an offset, as PostgreSQL's cast does.
      ['t', 'eq.10:00+05', [1]],
      // 10:00+02 is 08:00 UTC, yet not equal to 08:00+00; it orders first.
      ['tz', 'eq.08:00Z', [2]],
      ['tz', 'eq.10:00+02', [1]],
      ['tz', 'gte.08:00+00', [2, 3]],
      ['tz', 'lt.08:00+00', [1, 4]],
      ['tz', 'eq.09:00:00.25-01:00', [3]],
      ['tz', 'eq.10:00:00+05:30:15', [4]],
      ['tz', 'eq.04:29:45+0000', [] as number[]],
      ['u', 'eq.a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', [1]],
      ['u', 'eq.{A0EEBC999C0B4EF8BB6D6BB9BD380A11}', [1]],
      ['u', 'gt.00000000-0000-0000-0000-000000000001', [1, 3, 4]],
      ['u', 'in.(FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF,00000000000000000000000000000001)', [2, 3]],
      ['c', 'eq.ab', [1, 4]],
      ['c', 'eq.ab   ', [1, 4]],
      ['c', 'gt.ab', [2]],
      ['c', 'lt.ab', [3]],
    ]);
    expect(await refusal(rowcast, 'slots', 't=eq.25:00')).toBe('400 filter on t: "25:00" is not a time without time zone');
    expect(await refusal(rowcast, 'slots', 'tz=eq.10:00%2B16')).toBe('400 filter on tz: "10:00+16" is not a time with time zone');
    expect(await refusal(rowcast, 'slots', 'tz=eq.10:00%2B0530:15')).toBe('400 filter on tz: "10:00+0530:15" is not a time with time zone');
    expect(await refusal(rowcast, 'slots', 'u=eq.a0eebc99')).toBe('400 filter on u: "a0eebc99" is not a uuid');
    expect(await refusal(rowcast, 'slots', 'u=eq.{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')).toBe('400 filter on u: "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" is not a uuid');
    // Over SSE a 400 before streaming; over WebSocket invalid_message, and the socket goes on serving.
    const sse = await fetch(`${rowcast.url}/sse/slots?c=eq.ab&t=gt.9am`);
    expect(`${sse.status} ${((await sse.json()) as { error: { message: string } }).error.message}`).toBe('400 filter on t: "9am" is not a time without time zone');
    const ws = await TestWsClient.connect(rowcast.url);
    ws.send({ type: 'subscribe', id: 'bad', table: 'slots', filter: { u: 'in.(a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,oops)' } });
    expect(await ws.waitFor((m) => m.type === 'error' && m.ref === 'bad')).toMatchObject({ code: 'invalid_message', message: 'filter on u: "oops" is not a uuid' });
    await ws.subscribe({ id: 'good', table: 'slots', filter: { tz: 'gt.08:00Z' } });
    await database.query("insert into slots (id, tz) values (5, '23:00-01')");
    expect((await ws.waitForChanges(1, 'good'))[0]?.row.id).toBe(5);
    ws.close();
  });
});

describe('enums', () => {
  test('an enum orders by its labels as the type lists them, also through a domain', async ({ rowcast, database }) => {
    await database.query(`create type priority as enum ('low', 'normal', 'high'); create domain ticket_priority as priority`);
    await expose(rowcast, database, 'create table tickets (id int primary key, p priority, dp ticket_priority)', 'tickets');
    await expectMatches(rowcast, database, 'tickets', `insert into tickets values (1, 'low', 'low'), (2, 'high', 'high'), (3, 'normal', 'normal')`, [
      // As text, 'high' < 'low' < 'normal'.
      ['p', 'gt.low', [2, 3]],
      ['p', 'lt.high', [1, 3]],
      ['p', 'gte.normal', [2, 3]],
      ['p', 'in.(low,high)', [1, 2]],
      ['p', 'neq.normal', [1, 2]],
      ['dp', 'lte.normal', [1, 3]],
    ]);
    expect(await refusal(rowcast, 'tickets', 'p=eq.urgent')).toBe('400 filter on p: "urgent" is not a priority');
    expect(await refusal(rowcast, 'tickets', 'dp=eq.High')).toBe('400 filter on dp: "High" is not a ticket_priority');
  });
});

describe('domains', () => {
  test('a domain column filters as its base type; /tables still names the domain', async ({ rowcast, database }) => {
    await database.query(`create domain qty as integer check (value >= 0);
      create domain amount as numeric(10, 2);
      create domain moment as timestamptz;
      create domain stock as qty;
      create domain flag as boolean;`);
    await expose(rowcast, database, 'create table stocktake (id int primary key, n qty, price amount, at moment, level stock, ok flag)', 'stocktake');
    const columns = (await getJson(`${rowcast.url}/tables`)).json.tables.find((t: { name: string }) => t.name === 'stocktake').columns;
    expect(columns.map((c: { name: string; type: string }) => `${c.name} ${c.type}`)).toEqual(['id integer', 'n qty', 'price amount', 'at moment', 'level stock', 'ok flag']);
    expect(Object.keys(columns[1])).toEqual(['name', 'type', 'nullable']);
    // A value not of the base type is refused, naming the column's own type; the socket goes on serving.
    expect(await refusal(rowcast, 'stocktake', 'n=gt.many')).toBe('400 filter on n: "many" is not a qty');
    const ws = await TestWsClient.connect(rowcast.url);
    ws.send({ type: 'subscribe', id: 'bad', table: 'stocktake', filter: { ok: 'is.maybe' } });
    await ws.waitFor((m) => m.type === 'error' && m.code === 'invalid_message' && m.ref === 'bad');
    ws.send({ type: 'subscribe', id: 'bad2', table: 'stocktake', filter: { price: 'lt.ten' } });
    await ws.waitFor((m) => m.type === 'error' && m.code === 'invalid_message' && m.ref === 'bad2');
    await ws.subscribe({ id: 'good', table: 'stocktake', filter: { n: 'gt.9' } });
    ws.close();
    await expectMatches(rowcast, database, 'stocktake', `
      insert into stocktake values (1, 9, 9.5, '2024-01-01T10:00:00Z', 9, true), (2, 10, 10.25, '2024-01-01T10:00:00.5+01:00', 10, false),
        (3, 100, 100, '2024-01-01T09:59:59Z', 100, null);`, [
      // As text, '10' < '9' and '100' < '9'.
      ['n', 'gt.9', [2, 3]],
      ['n', 'lt.10', [1]],
      ['price', 'eq.10.250', [2]],
      ['price', 'gte.9.50', [1, 2, 3]],
      ['at', 'lt.2024-01-01T10:00:00Z', [2, 3]],
      ['level', 'gt.9', [2, 3]],
      ['ok', 'is.true', [1]],
    ]);
  });
});

describe('arrays and text', () => {
  test('arrays of any element type take eq, neq and in element by element, each as its type compares; text orders by code point', async ({ rowcast, database }) => {
    await expose(rowcast, database, 'create table shapes (id int primary key, nums integer[], ats timestamptz[], big bigint[], t text)', 'shapes');
    await expectMatches(rowcast, database, 'shapes', `begin; set local time zone 'UTC'; insert into shapes values
      (1, '{1,2}', '{2024-01-01T00:00:00Z}', '{9007199254740993}', U&'\\+01F600'), (2, '{1,3}', null, '{9007199254740992}', U&'\\FF66'); commit;`, [
      ['nums', 'eq.[1,2]', [1]],
      ['nums', 'eq.[1, 3]', [2]],
      ['nums', 'neq.[1,2]', [2]],
      ['nums', 'in.("[1,2]","[1,3]")', [1, 2]],
      ['ats', 'eq.["2024-01-01T00:00:00+00:00"]', [1]],
      ['ats', 'eq.["2023-12-31T19:00:00-05:00"]', [1]],
      ['big', 'eq.[9007199254740993]', [1]],
      ['t', 'gt.\u{FF66}', [1]],
      ['t', 'lt.\u{1F600}', [2]],
    ]);
  });
});

// The rowcast fixture installs Rowcast's schema.
test('`rowcast types` gives numeric, real and double precision columns the NaN and Infinity strings they can hold', async ({ rowcast: _, database }) => {
  await database.query(`create domain price as numeric(8,2) not null;
    create table quantities (id int primary key, exact numeric, money numeric(12,2), single real, double double precision, list numeric[], cost price, costs numeric(8,2)[]);
    select rowcast.expose('public.quantities');`);
  const output = renderTypes(await readTypeSources(database.pool));
  expect(output).toContain(`export interface Quantities {
  id: number;
  exact: number | 'NaN' | 'Infinity' | '-Infinity' | null;
  money: number | 'NaN' | null;
  single: number | 'NaN' | 'Infinity' | '-Infinity' | null;
  double: number | 'NaN' | 'Infinity' | '-Infinity' | null;
  list: (number | 'NaN' | 'Infinity' | '-Infinity' | null)[] | null;
  cost: number | 'NaN' | null;
  costs: (number | 'NaN' | null)[] | null;
}`);
});
