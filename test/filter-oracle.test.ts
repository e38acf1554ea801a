/**
 * PostgreSQL as the oracle of Rowcast's in-memory filters (README "Filters"):
 * for every column type the README says compares as PostgreSQL does, tricky
 * rows are written, and each filter must select exactly the rows that
 * `where <column> <op> $1::<type>` selects, <type> being what PostgreSQL gives
 * the literal of `column = 'v'` (the column's type without its modifier; text
 * in the C collation, as documented), live over WebSocket and on /changes. A
 * value PostgreSQL cannot cast to that type must be refused, and one it can
 * must not.
 */
import type { RowcastServer } from '../src/server.js';
import { describe, expect, test } from './support/fixtures.js';
import { getJson } from './support/tokens.js';
import { waitFor } from './support/wait.js';
import { FilterProbe } from './support/filter-probe.js';

interface ColumnSpec {
  type: string;
  /** Values of the rows, in row order (null: NULL); row i + 1 gets values[i]. */
  rows: Array<string | null>;
  /** Filter values, as a client writes them. */
  values: string[];
  /** Only eq, neq and in (booleans). */
  unordered?: boolean;
  /** Text types: the oracle compares in the C collation, as Rowcast documents. */
  collate?: boolean;
  /** An array of this element type: filter values are JSON arrays, which the oracle turns into one. */
  arrayOf?: string;
  /** json, which has no `=`: the oracle compares the column and the value as jsonb. */
  asJsonb?: boolean;
}

const COLUMNS: Record<string, ColumnSpec> = {
  i2: { type: 'smallint', rows: ['0', '-32768', '32767', '1', '2', null, '-1'], values: ['0', '-1', '32767', '-32768', '1', '+2', '32768', '1.5', ' 2', '007', '0x10', '-0x8000', '0o17', '0b_1', '1_000', '1__0', '_1', '0x', '\t2\n', '\u00a02'] },
  i8: {
    type: 'bigint',
    rows: ['0', '-9223372036854775808', '9223372036854775807', '9007199254740993', '9007199254740992', null, '-9007199254740993'],
    values: ['9007199254740993', '9007199254740992', '-9007199254740993', '9223372036854775807', '9223372036854775808', '0', '-0', '1e3'],
  },
  num: {
    type: 'numeric',
    rows: ['0', '-1.5', 'NaN', '0.1', '0.10000000000000001', null, 'Infinity', '-Infinity', '123456789012345678901234567890.000000000000000000001'],
    values: ['0', '0.1', '0.10', '-1.5', 'NaN', 'nan', 'Infinity', '-Infinity', '-INF', '1e-1', '123456789012345678901234567890', '-0.0', 'inf', '.5', '5.', '0x10', '1_000.5', ' 1.5 ', '1e', 'e1', '1.2.3', '\u00a01.5', '1.5\u2028', '1e-16383', '1e-16384', '1e-100000', '0e-16384', '1.5e-16382', '1.5e-16383', '1e131071', '1e131072', '0e131073', '0e1073741824', '1_0e-16383'],
  },
  r: { type: 'real', rows: ['0', '-1', 'NaN', '0.1', '-0', null, 'Infinity', '-Infinity', '1e-45', '1.00000011920928955078125', '3.4028234663852886e38'], values: ['0', '-0', '0.1', '0.100000001490116119384765625', 'NaN', 'infinity', 'Infinity', '-Infinity', '1e-45', '1e39', '-1', '1e-46', '0x10', '0x1p-149', '0x1p-150', '0x1p-151', '0x1p-9999999999', '0x1.fffffep127', '0x1.ffffffp127', '0x1p128', '-0x.8', '0x', '0x1.000001p0', '1.00000005960464477539062500001', '1.00000005960464477539062499999', '1.000000059604644775390625', '340282356779733661637539395458142568447', '340282356779733661637539395458142568448'] },
  d: {
    type: 'double precision',
    rows: ['0', '-1e308', 'NaN', '0.1', '-0', null, '1e-320', 'Infinity', '0.30000000000000004'],
    values: ['0', '-0', '0.1', '1e-320', 'NaN', '-Infinity', '0.30000000000000004', '0.3', '1e309', '-1e308', '0x1.8p1', '0X1P3', '0x1p-1074', '0x1p-1075', '0x1p-9999999999', '0x1.8p-1074', '0x1.00000000000008p0', '0x1.00000000000018p0', '0x1.fffffffffffff8p1023', ' 0x.1 ', '0x1.p0'],
  },
  t: { type: 'text', rows: ['', 'a', 'B', '😀', 'ｦ', null, 'a ', 'ab', 'é'], values: ['', 'a', 'a ', 'B', 'b', '😀', 'ｦ', 'é', 'ab', 'x\u0000y'], collate: true },
  c: { type: 'character(4)', rows: ['', 'a', 'ab  ', 'ab', 'b', null, 'A', 'a b'], values: ['', 'a', 'ab', 'ab   ', 'a b', 'A', 'b'], collate: true },
  b: { type: 'boolean', rows: ['false', 'true', null, 'false', 'true', null], values: ['true', 'false', 't', 'F', 'TRUE', ' yes ', 'y', 'no', 'on', 'of', 'off', 'o', '1', '0', 'tru', 'truth', '', 'nope', '2'] },
  dt: {
    type: 'date',
    rows: ['2024-01-01', '0044-03-15 BC', 'infinity', '-infinity', '2024-02-29', null, '1970-01-01', '10000-01-01', '5874897-12-31', '4714-11-24 BC'],
    values: ['2024-01-01', '2024-02-29', '0044-03-15 BC', 'infinity', '-infinity', '1970-01-01', '2024-01-01T23:00:00', '10000-01-01', '2023-02-29', '5874897-12-31', '5874898-01-01', '4714-11-24 BC', '4714-11-23 BC'],
  },
  ts: {
    type: 'timestamp without time zone',
    rows: ['2024-01-01 00:00', '1999-12-31 23:59:59.999999', 'infinity', '-infinity', '2024-02-29 12:00:00', null, '1970-01-01 00:00:00.000001', '0001-01-01 00:00 BC', '294276-12-31 23:59:59.999999', '4714-11-24 00:00 BC'],
    values: ['2024-01-01T00:00:00', '2024-01-01 00:00', '2024-01-01T00:00:00+05', '1999-12-31T23:59:59.999999', '1970-01-01T00:00:00.000001', 'infinity', '-infinity', '0001-01-01T00:00:00 BC', '2024-02-30T00:00:00', '294276-12-31T23:59:59.999999', '294277-01-01T00:00:00', '4714-11-24T00:00:00 BC', '4714-11-23T23:59:59.999999 BC', '294276-12-31T23:59:59.9999995', '1970-01-01T00:00:00.0000005', '1970-01-01T00:00:00.0000015', '1999-12-31T23:59:59.9999985'],
  },
  tz: {
    type: 'timestamp with time zone',
    rows: ['2024-01-01 00:00+00', '1999-12-31 23:59:59.999999-08', 'infinity', '-infinity', '2024-02-29 12:00:00+05:30', null, '1970-01-01 05:30:00+05:30', '2024-01-01 00:00+00:53:28'],
    values: ['2024-01-01T00:00:00Z', '2024-01-01T00:00:00', '2023-12-31T19:00:00-05:00', '2000-01-01T07:59:59.999999Z', '1970-01-01T00:00:00Z', '2024-02-29T06:30:00Z', 'infinity', '2023-12-31T23:06:32Z', '2024-01-01T00:00:00+0530', ' 2024-01-01T00:00:00Z\t', '\u00a02024-01-01T00:00:00Z', '294276-12-31T23:59:59-05', '294277-01-01T00:00:00+05', '4714-11-24T00:00:00+01 BC', '4714-11-23T23:00:00-01 BC', '2000-01-01T07:59:59.9999995Z', '1970-01-01T00:00:00.0000005Z', '1999-12-31T23:59:59.9999985-08'],
  },
  tm: {
    type: 'time without time zone',
    rows: ['00:00', '23:59:59.999999', '24:00:00', '12:00:00.5', '10:00', null, '08:00', '00:00:00.000002', '12:00:00.123456'],
    values: ['00:00', '10:00', '10:00:00', '24:00:00', '12:00:00.5', '23:59:59.999999', '10:00+05', '08:00:00.000001', '25:00', ' 10:00 ', '10:00\u00a0', '00:00:00.0000005', '00:00:00.0000015', '00:00:00.0000025', '12:00:00.1234565', '23:59:59.9999995', '23:59:59.9999985'],
  },
  tmtz: {
    type: 'time with time zone',
    rows: ['00:00+00', '23:59:59.999999-14', '24:00:00+00', '12:00+02', '10:00+02', null, '08:00+00'],
    values: ['00:00Z', '10:00+02', '08:00+00', '08:00', '12:00+02:00', '24:00:00+00', '10:00+0200', '09:00+01', '00:00+15:59', '00:00:00.0000005+00', '23:59:59.9999995+00', '12:00:00.0000015+02', '23:59:59.9999995-14'],
  },
  u: {
    type: 'uuid',
    rows: ['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12', '{a0eebc999c0b4ef8bb6d6bb9bd380a13}', null],
    values: ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13}', 'a0eebc999c0b4ef8bb6d6bb9bd380a11', 'a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11', '00000000-0000-0000-0000-000000000000', 'not-a-uuid', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1'],
  },
  i4: { type: 'integer', rows: ['0', '-2147483648', '2147483647', '1', '16', null, '-1'], values: ['0', '2147483647', '-2147483648', '2147483648', '0x10', '-0b1', '1_6', '16.0', '1e1', 'NaN', 'Infinity'] },
  n52: { type: 'numeric(5,2)', rows: ['0', '-1.5', 'NaN', '0.13', '999.99', null, '0.125', '-0.005'], values: ['0.13', '0.125', '0.12', '999.99', '1000', '-0.01', '-0.005', 'NaN', '1e-2', '-0'] },
  ts0: { type: 'timestamp(0) without time zone', rows: ['2024-01-01 00:00:00.4', '2024-01-01 00:00:00.5', '2024-01-01 00:00:01', null, 'infinity'], values: ['2024-01-01T00:00:00', '2024-01-01T00:00:00.4', '2024-01-01T00:00:01', '2024-01-01T00:00:00.5', 'infinity'] },
  vc: { type: 'character varying(3)', rows: ['', 'abc', 'ab', 'b', 'ABC', null], values: ['ab', 'abc', 'abcd', 'b', ''], collate: true },
  jb: {
    type: 'jsonb',
    rows: ['{"a": 1, "b": [1, 2.0]}', '{"b":[1,2],"a":1.0}', '[]', '"x"', '1e2', '{"k": {"z": 1, "y": "é"}}', null, '[{"a":[]}, 9007199254740993]', '{"a":1,"a":2}'],
    values: ['{"b":[1,2],"a":1}', '{"a":1,"b":[1,2.00]}', '100', '1e2', '"x"', '[]', '{"k":{"y":"é","z":1}}', 'nope', '{"a":2}', '[{"a":[]},9007199254740993]', '[{"a":[]},9007199254740992]', '{}', '"\\u0000"', '{"\\u0000":1}', '"\\ud800"', '"\\ud83d\\ude00"', '1e131072', '[1e-16384]', '{"a":1e-100000}', '-0', '1E2'],
    unordered: true,
  },
  js: {
    type: 'json',
    rows: ['{"b": 1, "1": 2}', '{"__proto__": 1}', '{"a":1, "a":2}', '[1.0, "\\u0041"]', '1e2', null, '{"k": {"z": 1, "y": "é"}}', '-0'],
    values: ['{"1":2,"b":1}', '{"b":1,"1":2}', '{"__proto__":1}', '{"a":2}', '{"a":1,"a":2}', '{"a":1}', '[1,"A"]', '[1.0,"\\u0041"]', '100', '0', '{"k":{"y":"\\u00e9","z":1}}', '"\\u0000"', '1e131072', 'nope'],
    unordered: true,
    asJsonb: true,
  },
  ia: { type: 'integer[]', arrayOf: 'integer', rows: ['{1,2}', '{}', '{1,NULL}', '{2,1}', null, '{-2147483648}'], values: ['[1,2]', '[ 1 , 2 ]', '[]', '[1,null]', '[2,1]', '[1.5]', '["1"]', '[-2147483648]', '[2147483648]', '{"a":1}', '1', 'nope', '[2.0]', '[1e0]', '[1,2.0]', '[0x1]'], unordered: true },
  na: { type: 'numeric[]', arrayOf: 'numeric', rows: ['{1.0,2}', '{1,2.00}', '{NaN}', '{0.1}', null, '{Infinity,-Infinity}'], values: ['[1,2]', '[1.0,2.0]', '["NaN"]', '["nan"]', '[0.10]', '["Infinity","-Infinity"]', '[1e0,2]', '["x"]', '[1e-16384]', '["1e-16384"]', '[1e131071]'], unordered: true },
  ta: { type: 'text[]', arrayOf: 'text', rows: ['{a,b}', '{"a,b"}', '{""}', '{NULL}', null, '{B,a}'], values: ['["a","b"]', '["a,b"]', '[""]', '[null]', '["B","a"]', '["b","a"]', '[1]', '[1.0]', '[1e0]'], unordered: true },
  tza: {
    type: 'timestamp with time zone[]',
    arrayOf: 'timestamp with time zone',
    rows: ['{"2024-01-01 00:00+00","2024-01-01 05:00+05"}', '{infinity}', '{"2024-01-01 00:00:00.000001+00"}', null],
    values: ['["2024-01-01T00:00:00Z","2024-01-01T00:00:00Z"]', '["2023-12-31T19:00:00-05:00","2024-01-01T00:00:00+00:00"]', '["infinity"]', '["2024-01-01T00:00:00.000001Z"]', '["soon"]'],
    unordered: true,
  },
  ua: { type: 'uuid[]', arrayOf: 'uuid', rows: ['{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', null, '{00000000-0000-0000-0000-000000000000,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'], values: ['["A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"]', '["{a0eebc999c0b4ef8bb6d6bb9bd380a11}"]', '["00000000-0000-0000-0000-000000000000","a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]', '["x"]'], unordered: true },
  ea: { type: 'priority[]', arrayOf: 'priority', rows: ['{low,high}', '{}', '{mid,NULL}', '{high,low}', null], values: ['["low","high"]', '["high","low"]', '[]', '["mid",null]', '["Low"]', '["urgent"]', '[1]'], unordered: true },
  doma: { type: 'small_count[]', arrayOf: 'small_count', rows: ['{1,2}', '{}', '{-5,NULL}', '{10}', null], values: ['[1,2]', '["1","2"]', '["01","2"]', '[1.0,2]', '["x"]', '[-5,null]', '[10]', '[2147483648]', '[]'], unordered: true },
  e: { type: 'priority', rows: ['low', 'high', 'mid', 'low', 'high', null, 'mid'], values: ['low', 'mid', 'high', 'Low', 'urgent'] },
  dom: { type: 'small_count', rows: ['0', '-5', '2147483647', '1', '10', null, '-1'], values: ['0', '1', '-5', '10', '2147483647', '2147483648', 'x'] },
};

const ORDERED = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte'] as const;
const SQL_OP: Record<string, string> = { eq: '=', neq: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' };

interface Case {
  column: string;
  filter: string;
  /** The oracle's condition on $1, or null when PostgreSQL refuses the value. */
  sql: string | null;
  value: unknown;
}

type Database = { query<R extends object = any>(text: string, values?: unknown[]): Promise<{ rows: R[] }> };

/** Whether PostgreSQL casts `value` to `type`. */
function casts(database: Database, value: string, type: string): Promise<boolean> {
  return castsTo(database, `$1::${type}`, value);
}

/** Whether PostgreSQL evaluates `expression` of $1 = `value` without an error. */
async function castsTo(database: Database, expression: string, value: string): Promise<boolean> {
  try {
    await database.query(`select ${expression}`, [value]);
    return true;
  } catch {
    return false;
  }
}

/**
 * The type PostgreSQL gives the literal of `column = 'v'`: the column's without
 * its modifier (so numeric(5,2) compares with 0.125, not 0.13). character
 * without a length would be character(1); the literal is bpchar.
 */
function literalType(type: string): string {
  return type.startsWith('character(') ? 'bpchar' : type.replace(/\(\d+(,\s*\d+)?\)/, '');
}

/** SQL for $1, a JSON array, as an array of `element`s (one-dimensional: what these tests write). */
const jsonArray = (element: string) =>
  `coalesce((select array_agg(e::${element} order by o) from json_array_elements_text($1::json) with ordinality as t(e, o)), '{}')::${element}[]`;

async function buildCases(database: Database): Promise<Case[]> {
  const cases: Case[] = [];
  for (const [column, { type: declared, ...spec }] of Object.entries(COLUMNS)) {
    const type = spec.asJsonb ? 'jsonb' : literalType(declared);
    const columnAs = spec.collate ? ' collate "C"' : spec.asJsonb ? '::jsonb' : '';
    if (spec.arrayOf !== undefined) {
      const array = jsonArray(spec.arrayOf);
      for (const value of spec.values) {
        const ok = await castsTo(database, array, value);
        for (const op of ['eq', 'neq']) cases.push({ column, filter: `${op}.${value}`, sql: ok ? `${column} ${SQL_OP[op]} ${array}` : null, value });
      }
      cases.push({ column, filter: 'is.null', sql: `${column} is null and $1::text is null`, value: null });
      continue;
    }
    const ops = spec.unordered ? (['eq', 'neq'] as const) : ORDERED;
    const castable: string[] = [];
    for (const value of spec.values) {
      const ok = await casts(database, value, type);
      if (ok) castable.push(value);
      for (const op of ops) cases.push({ column, filter: `${op}.${value}`, sql: ok ? `${column}${columnAs} ${SQL_OP[op]} $1::${type}` : null, value });
    }
    // Values without commas, parentheses or quotes (in-list syntax), two and three at a time.
    const listable = castable.filter((v) => !/[,()"]/.test(v));
    for (const n of [2, 3]) {
      const list = listable.slice(0, n);
      cases.push({ column, filter: `in.(${list.join(',')})`, sql: `${column}${columnAs} = any($1::${type}[])`, value: list });
    }
    cases.push({ column, filter: 'is.null', sql: `${column} is null and $1::text is null`, value: null });
  }
  return cases;
}

async function served(rowcast: RowcastServer, table: string): Promise<void> {
  await waitFor(async () => (await getJson(`${rowcast.url}/tables`)).json?.tables?.some((t: { name: string }) => t.name === table), { what: `${table} to be served` });
}

describe('filters against PostgreSQL', () => {
  test('each filter selects what PostgreSQL selects, live and on /changes; what PostgreSQL cannot cast is refused', { timeout: 120_000 }, async ({ rowcast, database }) => {
    await database.query(`
      create type priority as enum ('low', 'mid', 'high');
      create domain small_count as integer;
      create table samples (id integer primary key, ${Object.entries(COLUMNS).map(([c, s]) => `${c} ${s.type}`).join(', ')});
      select rowcast.expose('public.samples');`);
    await served(rowcast, 'samples');
    // The oracle casts in UTC: Rowcast reads a timestamptz value without an offset as UTC.
    const oracle = await database.pool.connect();
    try {
      await oracle.query("set timezone = 'UTC'");
      await compareWithPostgres(rowcast, oracle);
    } finally {
      // A client kept out of the pool would hold up dropping the test's database.
      oracle.release();
    }
  });
});

/** Refusals, then every comparison, live and polled, against the oracle's answer. */
async function compareWithPostgres(rowcast: RowcastServer, oracle: Database): Promise<void> {
  const cases = await buildCases(oracle);
  const refused = cases.filter((c) => c.sql === null);
  const compared = cases.filter((c) => c.sql !== null);

  // Refusals: /changes answers 400 for every value PostgreSQL does not cast.
  const accepted: string[] = [];
  for (const { column, filter } of refused) {
    const { status } = await getJson(`${rowcast.url}/changes/samples?${column}=${encodeURIComponent(filter)}`);
    if (status !== 400) accepted.push(`${column}=${filter} (${status})`);
  }
  expect(accepted).toEqual([]);

  // Values PostgreSQL casts that Rowcast refuses.
  const refusedHere: string[] = [];
  for (const { column, filter } of compared) {
    const { status, json } = await getJson(`${rowcast.url}/changes/samples?${column}=${encodeURIComponent(filter)}`);
    if (status !== 200) refusedHere.push(`${column}=${filter} (${status} ${json?.error?.message})`);
  }
  expect(refusedHere).toEqual([]);

  const probe = await FilterProbe.open(rowcast.url, 'samples', compared.map(({ column, filter }) => ({ [column]: filter })));

  const rowCount = Math.max(...Object.values(COLUMNS).map((s) => s.rows.length));
  const columns = Object.keys(COLUMNS);
  for (let r = 0; r < rowCount; r++) {
    const values = columns.map((c) => COLUMNS[c]!.rows[r] ?? null);
    await oracle.query(`insert into samples (id, ${columns.join(', ')}) values (${r + 1}, ${columns.map((c, i) => `$${i + 1}::${COLUMNS[c]!.type}`).join(', ')})`, values);
  }
  await probe.waitForRow(rowCount);

  const got: Record<string, { live: unknown[]; polled: unknown[] }> = {};
  const want: Record<string, { live: unknown[]; polled: unknown[] }> = {};
  for (const [i, { column, filter, sql, value }] of compared.entries()) {
    const { rows } = await oracle.query<{ id: number }>(`select id from samples where ${sql} order by id`, [value]);
    const ids = rows.map((row) => row.id);
    const key = `${column}=${filter}`;
    got[key] = { live: probe.live(i), polled: await probe.polled({ [column]: filter }) };
    want[key] = { live: ids, polled: ids };
  }
  expect(got).toEqual(want);
  // Not vacuous: many distinct answers, and refusals were tried.
  expect(new Set(Object.values(want).map((w) => w.live.join(','))).size).toBeGreaterThan(60);
  expect(refused.length).toBeGreaterThan(10);
  probe.close();
}
