/**
 * CONTRACT §3, `row` is the new row and `old` the previous one, whatever the
 * table's columns are called: the capture functions name the transition rows
 * `n` and `o`, and a column of that name must not stand in for the row.
 */
import { expect, test } from './support/fixtures.js';
import { subscribeWhenServed } from './support/exposure.js';
import { TestWsClient } from './support/ws-client.js';

test('columns named n, o, i and r: every write succeeds and each event carries the whole rows', async ({ rowcast, database }) => {
  await database.query('create table public.letters (id int primary key, n int, o text, i int, r text)');
  await database.query("select rowcast.expose('public.letters')");
  const ws = await TestWsClient.connect(rowcast.url);
  const sub = await subscribeWhenServed(ws, 'letters');

  // A NULL in `n` made the writer's INSERT fail: the log's row column is not null.
  await database.query("insert into letters values (1, null, 'x', 7, 'y'), (2, 5, null, null, null)");
  await database.query("update letters set n = n + 1, o = 'z' where id = 2");
  await database.query('delete from letters where id = 1');

  const changes = await ws.waitForChanges(4, sub);
  expect(changes.map((c) => [c.op, c.row, c.old])).toEqual([
    ['INSERT', { id: 1, n: null, o: 'x', i: 7, r: 'y' }, null],
    ['INSERT', { id: 2, n: 5, o: null, i: null, r: null }, null],
    ['UPDATE', { id: 2, n: 6, o: 'z', i: null, r: null }, { id: 2, n: 5, o: null, i: null, r: null }],
    ['DELETE', { id: 1, n: null, o: 'x', i: 7, r: 'y' }, { id: 1, n: null, o: 'x', i: 7, r: 'y' }],
  ]);
  ws.close();
});
