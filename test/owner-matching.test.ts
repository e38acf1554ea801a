/**
 * Owner rules against PostgreSQL (CONTRACT §7, README "Read rules"): a row
 * whose owner column equals the token's sub is the sub's, equal as
 * PostgreSQL's `owner = 'sub'` has it. For each owner column type, rows are
 * written (in two time zones) and each sub reads, over /changes, exactly the
 * rows `where owner = $1` selects; a sub the type cannot read (where
 * PostgreSQL's `=` raises an error) is refused with 403. Types filters read
 * as text (inet, bytea…) compare as text: never more than PostgreSQL selects.
 */
import type { RowcastServer } from '../src/server.js';
import type { TestDatabase } from './support/database.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { TestSseClient } from './support/sse-client.js';
import { bearer, connectAs, getJson, hmacToken, SECRET } from './support/tokens.js';
import { waitFor } from './support/wait.js';

const it = test.extend<{ server: RowcastServer }>({
  server: async ({ database }, use) => {
    const server = await startTestServer(database.url, { jwt: { secret: SECRET } });
    await use(server);
    await server.close();
  },
});

interface OwnerCase {
  type: string;
  /** SQL expressions of the owners, one row each (ids 1, 2, …); one more row has none. */
  values: string[];
  subs: string[];
  /** Compared as text (no type-aware reading): Rowcast may select fewer rows than PostgreSQL, never more. */
  asText?: boolean;
}

const CASES: Record<string, OwnerCase> = {
  uuid: {
    type: 'uuid',
    values: ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12'", "'00000000-0000-0000-0000-000000000000'"],
    subs: ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', 'a0eebc999c0b4ef8bb6d6bb9bd380a12', '00000000-0000-0000-0000-000000000000', 'u1', ''],
  },
  big: { type: 'bigint', values: ['7', '9007199254740993', '9007199254740992', '-1', '0'], subs: ['7', '007', '+7', ' 7', '7.0', '9007199254740993', '9007199254740992', '-1', '-0', '0x7', 'u1', ''] },
  small: { type: 'smallint', values: ['7', '32767'], subs: ['7', '32767', '0007', '32768'] },
  num: {
    type: 'numeric',
    values: ['7', '7.00', '1.5', '0.1', '0.10000000000000001', "'NaN'", '123456789012345678901234567890'],
    subs: ['7', '7.0', '7.00', '1.50', '0.1', '0.10000000000000001', 'NaN', 'nan', '123456789012345678901234567890', '1.2345678901234568e+29', 'u1'],
  },
  scaled: { type: 'numeric(10,2)', values: ['7', '1.5'], subs: ['7', '7.00', '1.50', '1.5'] },
  flt: { type: 'real', values: ['0.1', '16777216', "'NaN'", "'-0'"], subs: ['0.1', '0.100000001', '16777216', '16777217', 'NaN', 'inf', '0', '-0'] },
  dbl: { type: 'double precision', values: ['0.1', '1e300', "'-0'", "'-Infinity'"], subs: ['0.1', '1e300', '1e+300', '0', '-0', '-Infinity', '0.3'] },
  txt: { type: 'text', values: ["'u1'", "'u1 '", "'U1'", "''", "'null'", "'7'"], subs: ['u1', 'u1 ', 'U1', '', 'null', '7', 'undefined', '[object Object]'] },
  vc: { type: 'varchar(10)', values: ["'u1'", "'u1 '"], subs: ['u1', 'u1 ', 'u1  '] },
  bp: { type: 'character(5)', values: ["'u1'", "'ab   '", "''"], subs: ['u1', 'u1 ', 'u1   ', 'ab', '', '     '] },
  dom: { type: 'owner_text', values: ["'u1'", "'U1'"], subs: ['u1', 'U1', 'u1 '] },
  lbl: { type: 'owner_label', values: ["'u1'", "'u2'", "'7'"], subs: ['u1', 'u2', 'U1', '7', '07'] },
  flag: { type: 'boolean', values: ['true', 'false'], subs: ['true', 'false', 't', 'f', 'TRUE', 'yes', 'no', '1', '0', 'on'] },
  day: { type: 'date', values: ["'2024-01-01'", "'infinity'"], subs: ['2024-01-01', '2024-01-01T00:00:00', 'infinity'] },
  at: {
    type: 'timestamptz',
    values: ["'2024-01-01T00:00:00Z'", "'2024-06-01T12:00:00.5+05:30'"],
    subs: ['2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00Z', '2024-01-01 00:00:00+00', '2024-06-01T06:30:00.5+00:00', '2024-06-01T12:00:00.5+05:30'],
  },
  span: { type: 'interval', values: ["'1 day'", "'24:00:00'", "'1 mon'"], subs: ['1 day', '24:00:00', '30 days', '1 mon', 'P1D'] },
  net: { type: 'inet', values: ["'10.0.0.1'", "'10.0.0.0/24'"], subs: ['10.0.0.1', '10.0.0.1/32', '10.0.0.0/24'], asText: true },
  raw: { type: 'bytea', values: ["'\\x7531'::bytea"], subs: ['\\x7531', '\\X7531', 'u1'], asText: true },
};

/** Ids of the rows of `table` this token reads on /changes, or the HTTP status when refused. */
async function owned(server: RowcastServer, table: string, sub: string): Promise<number[] | number> {
  const { status, json } = await getJson(`${server.url}/changes/${table}?limit=10000`, bearer(await hmacToken({ sub, role: 'user' })));
  return status === 200 ? json.changes.map((c: { row: { id: number } }) => c.row.id).sort((a: number, b: number) => a - b) : status;
}

/** Ids PostgreSQL's `owner = $1` selects (the parameter read as the column's type), or 403 where it raises an error. */
async function selected(database: TestDatabase, table: string, sub: string): Promise<number[] | number> {
  try {
    const { rows } = await database.query<{ id: number }>(`select id from ${table} where owner = $1 order by id`, [sub]);
    return rows.map((row) => row.id);
  } catch {
    return 403;
  }
}

it('each sub reads the rows PostgreSQL’s owner = sub selects, for every owner column type; one the type cannot read is refused', { timeout: 60_000 }, async ({ server, database }) => {
  await database.query("create domain owner_text as text; create type owner_label as enum ('u1', 'u2', '7')");
  const client = await database.pool.connect();
  try {
    for (const [name, { type, values }] of Object.entries(CASES)) {
      await client.query(`create table own_${name} (id int primary key, owner ${type}); select rowcast.expose('public.own_${name}', owner_column => 'owner')`);
      // Two time zones: a timestamptz owner reaches to_json with two offsets.
      for (const [i, value] of values.entries()) {
        await client.query(`set time zone ${i % 2 === 0 ? "'UTC'" : "'Asia/Kolkata'"}`);
        await client.query(`insert into own_${name} values (${i + 1}, ${value})`);
      }
      await client.query(`insert into own_${name} values (${values.length + 1}, null)`);
    }
  } finally {
    client.release();
  }
  const admin = await hmacToken({ sub: 'a', role: 'admin' });
  for (const [name, { values }] of Object.entries(CASES)) {
    await waitFor(async () => (await getJson(`${server.url}/changes/own_${name}`, bearer(admin))).json?.changes?.length === values.length + 1, { what: `own_${name} to be served` });
  }

  const got: Record<string, unknown> = {};
  const want: Record<string, unknown> = {};
  const beyond: string[] = [];
  for (const [name, { type, subs, asText }] of Object.entries(CASES)) {
    for (const sub of subs) {
      const key = `${type} sub=${JSON.stringify(sub)}`;
      const rowcast = await owned(server, `own_${name}`, sub);
      const postgres = await selected(database, `own_${name}`, sub);
      if (asText) {
        const allowed = Array.isArray(postgres) ? postgres : [];
        if (Array.isArray(rowcast) && rowcast.some((id) => !allowed.includes(id))) beyond.push(`${key}: ${rowcast} where PostgreSQL selects ${postgres}`);
      } else {
        got[key] = rowcast;
        want[key] = postgres;
      }
    }
  }
  expect(got).toEqual(want);
  expect(beyond).toEqual([]);
  // Not vacuous: rows were owned, and subs refused.
  expect(Object.values(want).filter((ids) => Array.isArray(ids) && ids.length > 0).length).toBeGreaterThan(30);
  expect(Object.values(want).filter((ids) => ids === 403).length).toBeGreaterThan(5);
});

it('live, over WebSocket and SSE, through the hub’s index by owner: a sub in another spelling of the owner’s value gets its rows and no one else’s; a sub the type cannot read is refused and the others go on', async ({ server, database }) => {
  await database.query(`create table live_uuid (id int primary key, owner uuid, body text); select rowcast.expose('public.live_uuid', owner_column => 'owner');
    create table live_pad (id int primary key, owner character(5), body text); select rowcast.expose('public.live_pad', owner_column => 'owner')`);
  const upper = await hmacToken({ sub: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', role: 'user' });
  await waitFor(async () => (await getJson(`${server.url}/tables`, bearer(upper))).json?.tables?.filter((t: { name: string }) => t.name.startsWith('live_')).length === 2, { what: 'the tables to be served' });
  const ws = await connectAs(server.url, upper);
  const sse = new TestSseClient(`${server.url}/sse/live_pad`, bearer(await hmacToken({ sub: 'u1', role: 'user' })));
  try {
    await ws.subscribe({ id: 'mine', table: 'live_uuid' });
    await ws.subscribe({ id: 'p', table: 'posts' });
    // A sub that is no uuid: refused with a clear error, and the others are served on.
    const nope = await connectAs(server.url, await hmacToken({ sub: 'nope', role: 'user' }));
    nope.send({ type: 'subscribe', id: 'x', table: 'live_uuid' });
    expect(await nope.waitFor((m) => m.type === 'error' && m.ref === 'x')).toMatchObject({ code: 'forbidden' });
    nope.close();
    expect((await getJson(`${server.url}/sse/live_uuid`, bearer(await hmacToken({ sub: 'nope', role: 'user' })))).status).toBe(403);
    await sse.opened();
    await database.query(`insert into live_uuid values (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'mine'), (2, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'other');
      insert into live_pad values (1, 'u1', 'padded mine'), (2, 'u2', 'padded other'), (3, 'u1   ', 'padded mine too')`);
    // Published after those rows: once it is here, any other owner's row would have been too.
    await database.query("insert into posts (title) values ('sentinel')");
    await ws.waitFor((m) => m.type === 'change' && m.sub === 'p' && m.row.title === 'sentinel');
    await waitFor(() => sse.events.length >= 2, { what: 'the SSE rows' });
    expect({ ws: ws.changes('mine').map((c) => c.row.body), sse: sse.events.map((e) => e.row.body) }).toEqual({ ws: ['mine'], sse: ['padded mine', 'padded mine too'] });
  } finally {
    ws.close();
    sse.close();
  }
});
