/**
 * CONTRACT §2 and §3 for a partitioned table a DBA exposes: every write is
 * captured under the exposed name, also one that names a partition, or a
 * partition created or attached after the expose; the table renamed keeps
 * being captured under its new name; unexposed, no trigger is left behind.
 */
import type { ChangeEvent } from '../src/protocol.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { WITHIN_MS, subscribeWhenServed } from './support/exposure.js';
import { getJson } from './support/tokens.js';
import { TestWsClient } from './support/ws-client.js';

const seen = (changes: readonly ChangeEvent[]) => changes.map((c) => `${c.table} ${c.op} ${JSON.stringify(c.row)} ${JSON.stringify(c.old)}`);

test('a partitioned table: writes naming it or any partition, also one created or attached later, reach subscribers and /changes in commit order, under its name', async ({ rowcast, database }) => {
  await database.query(`
    create table public.parts (id int, k int, v text, primary key (id, k)) partition by list (k);
    create table public.parts_1 partition of public.parts for values in (1);
    create table public.parts_2 partition of public.parts for values in (2);
    select rowcast.expose('public.parts');`);
  const ws = await TestWsClient.connect(rowcast.url);
  const sub = await subscribeWhenServed(ws, 'parts');
  const { json: start } = await getJson(`${rowcast.url}/changes/parts`);

  await database.query("insert into parts values (1, 1, 'via parent'), (2, 2, 'b')");
  await database.query("insert into parts_1 values (3, 1, 'naming a partition')");
  await database.query("update parts_1 set v = 'updated in place' where id = 1");
  // Moved to another partition: PostgreSQL's row triggers see a DELETE and an INSERT.
  await database.query('update parts set k = 2 where id = 1');
  await database.query('delete from parts_2 where id = 2');
  await database.query(`
    create table public.parts_3 partition of public.parts for values in (3);
    insert into parts_3 values (9, 3, 'created later');
    create table public.parts_4 (id int, k int, v text, primary key (id, k));
    alter table public.parts attach partition public.parts_4 for values in (4);
    insert into parts_4 values (10, 4, 'attached later');`);

  const expected = [
    'parts INSERT {"id":1,"k":1,"v":"via parent"} null',
    'parts INSERT {"id":2,"k":2,"v":"b"} null',
    'parts INSERT {"id":3,"k":1,"v":"naming a partition"} null',
    'parts UPDATE {"id":1,"k":1,"v":"updated in place"} {"id":1,"k":1,"v":"via parent"}',
    'parts DELETE {"id":1,"k":1,"v":"updated in place"} {"id":1,"k":1,"v":"updated in place"}',
    'parts INSERT {"id":1,"k":2,"v":"updated in place"} null',
    'parts DELETE {"id":2,"k":2,"v":"b"} {"id":2,"k":2,"v":"b"}',
    'parts INSERT {"id":9,"k":3,"v":"created later"} null',
    'parts INSERT {"id":10,"k":4,"v":"attached later"} null',
  ];
  expect(seen(await ws.waitForChanges(expected.length, sub, WITHIN_MS))).toEqual(expected);
  const { json: page } = await getJson(`${rowcast.url}/changes/parts?since=${start.cursor}`);
  expect(seen(page.changes)).toEqual(expected);
  ws.close();
});

test('a partitioned table renamed is captured under its new name, also through its partitions; unexposed, its partitions keep no trigger', async ({ rowcast, database }) => {
  await database.query(`
    create table public.slices (id int, k int, v text, primary key (id, k)) partition by list (k);
    create table public.slices_1 partition of public.slices for values in (1);
    select rowcast.expose('public.slices');
    alter table public.slices rename to pieces;`);
  const ws = await TestWsClient.connect(rowcast.url);
  const sub = await subscribeWhenServed(ws, 'pieces');
  await database.query("insert into slices_1 values (1, 1, 'after the rename')");
  const [change] = await ws.waitForChanges(1, sub, WITHIN_MS);
  expect(change).toMatchObject({ table: 'pieces', op: 'INSERT', row: { v: 'after the rename' } });

  await database.query("select rowcast.unexpose('public.pieces')");
  const { rows } = await database.query(
    "select count(*)::int as n from pg_trigger where tgrelid in ('public.pieces'::regclass, 'public.slices_1'::regclass) and tgname like 'rowcast_capture%'",
  );
  expect(rows[0].n).toBe(0);
  const before = await database.query('select count(*)::int as n from rowcast.changes');
  // A capture trigger writes in the writer's transaction: once committed, the log shows it or never will.
  await database.query("insert into slices_1 values (2, 1, 'not exposed')");
  const after = await database.query('select count(*)::int as n from rowcast.changes');
  expect(after.rows[0].n).toBe(before.rows[0].n);
  ws.close();
});

test('a partitioned table exposed before row triggers (statement-level ones on the parent) gets its row trigger at the next start', async ({ rowcast: _first, database }) => {
  await database.query(`
    create table public.shards (id int, k int, primary key (id, k)) partition by list (k);
    create table public.shards_1 partition of public.shards for values in (1);
    select rowcast.expose('public.shards');
    select rowcast.drop_capture_triggers('public.shards');
    create trigger rowcast_capture_insert after insert on public.shards
      referencing new table as rowcast_new for each statement execute function rowcast.capture_insert();`);
  const server = await startTestServer(database.url);
  try {
    const { rows } = await database.query(
      "select tgname from pg_trigger where tgrelid = 'public.shards'::regclass and tgname like 'rowcast_capture%'",
    );
    expect(rows.map((r) => r.tgname)).toEqual(['rowcast_capture_row']);
    const ws = await TestWsClient.connect(server.url);
    const sub = await subscribeWhenServed(ws, 'shards');
    await database.query('insert into shards_1 values (1, 1)');
    expect((await ws.waitForChanges(1, sub, WITHIN_MS))[0]).toMatchObject({ table: 'shards', op: 'INSERT', row: { id: 1, k: 1 } });
    ws.close();
  } finally {
    await server.close();
  }
});
