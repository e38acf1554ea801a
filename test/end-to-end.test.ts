/**
 * CONTRACT §2–§5 end to end: rows written from another connection arrive as
 * typed events over a real WebSocket and a real EventSource.
 */
import { describe, expect, test } from './support/fixtures.js';
import { TestSseClient } from './support/sse-client.js';
import { TestWsClient } from './support/ws-client.js';

const WRITES = {
  orders: {
    insert: "insert into orders (order_number, customer_name, total) values ('A-1', 'Ada', 12.50)",
    update: "update orders set status = 'paid', updated_at = now() where order_number = 'A-1'",
    delete: "delete from orders where order_number = 'A-1'",
    column: 'status',
    after: 'paid',
  },
  posts: {
    insert: "insert into posts (author_id, title, body) values ('u1', 'Hello', 'first')",
    update: "update posts set likes = likes + 1 where title = 'Hello'",
    delete: "delete from posts where title = 'Hello'",
    column: 'likes',
    after: 1,
  },
  notifications: {
    insert: "insert into notifications (user_id, kind, title) values ('u1', 'info', 'Hi')",
    update: "update notifications set read = true where title = 'Hi'",
    delete: "delete from notifications where title = 'Hi'",
    column: 'read',
    after: true,
  },
} as const;

describe('each op on each demo table', () => {
  for (const [table, w] of Object.entries(WRITES)) {
    test(`${table}: INSERT, UPDATE, DELETE over WebSocket and SSE`, async ({ rowcast, database }) => {
      const ws = await TestWsClient.connect(rowcast.url);
      await ws.subscribe({ id: 's1', table });
      const sse = new TestSseClient(`${rowcast.url}/sse/${table}`);
      await sse.opened();

      await database.query(w.insert);
      await database.query(w.update);
      await database.query(w.delete);

      const frames = await ws.waitForChanges(3);
      const events = await sse.waitForEvents(3);
      expect(frames.map((f) => f.op)).toEqual(['INSERT', 'UPDATE', 'DELETE']);
      expect(events.map((e) => e.op)).toEqual(['INSERT', 'UPDATE', 'DELETE']);
      const [ins, upd, del] = frames;
      expect(ins).toMatchObject({ type: 'change', sub: 's1', table, schema: 'public', old: null });
      expect(upd?.row[w.column]).toEqual(w.after);
      expect(upd?.old?.[w.column]).not.toEqual(w.after);
      expect(del?.row.id).toEqual(ins?.row.id);
      expect(del?.old?.id).toEqual(ins?.row.id);
      for (const f of frames) expect(Date.parse(f.committed_at)).toBeGreaterThan(Date.now() - 60_000);
      // The same event on both transports, with the cursor as SSE id.
      expect(events.map((e) => e.id)).toEqual(frames.map((f) => f.id));
      expect(sse.ids).toEqual(frames.map((f) => f.id));
      const { type: _type, sub: _sub, ...event } = ins!;
      expect(events[0]).toEqual(event);
      expect(ws.malformed).toEqual([]);
      ws.close();
      sse.close();
    });
  }
});

test('numeric and bigint columns arrive as JSON numbers, text as strings', async ({ rowcast, database }) => {
  const ws = await TestWsClient.connect(rowcast.url);
  await ws.subscribe({ id: 'o', table: 'orders' });
  await database.query("insert into orders (order_number, total) values ('N-1', 1234.56)");
  const [change] = await ws.waitForChanges(1);
  expect(change?.row).toMatchObject({ order_number: 'N-1', total: 1234.56, status: 'pending' });
  expect(typeof change?.row.id).toBe('number');
  ws.close();
});

describe('filters', () => {
  test('eq, gt and in are ANDed; UPDATE matches on the new row', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    await ws.subscribe({ id: 'big', table: 'orders', filter: { status: 'eq.pending', total: 'gt.100' } });
    await ws.subscribe({ id: 'who', table: 'orders', filter: { customer_name: 'in.(Ada,"Grace, H")' } });
    await ws.subscribe({ id: 'nul', table: 'orders', filter: { customer_name: 'is.null' } });
    await database.query(`insert into orders (order_number, customer_name, total) values
      ('F-1', 'Ada', 50), ('F-2', 'Bob', 150), ('F-3', 'Grace, H', 500), ('F-4', null, 1)`);
    await database.query("update orders set status = 'paid' where order_number = 'F-2'");
    await database.query("update orders set total = 200 where order_number = 'F-1'");
    await ws.waitForChanges(1, 'nul');
    await ws.waitFor((m) => m.type === 'change' && m.sub === 'who' && m.op === 'UPDATE');
    await ws.waitForChanges(3, 'big');
    const big = ws.changes('big').map((c) => `${c.op} ${String(c.row.order_number)}`);
    expect(big).toEqual(['INSERT F-2', 'INSERT F-3', 'UPDATE F-1']);
    expect(ws.changes('who').map((c) => `${c.op} ${String(c.row.order_number)}`)).toEqual(['INSERT F-1', 'INSERT F-3', 'UPDATE F-1']);
    expect(ws.changes('nul').map((c) => c.row.order_number)).toEqual(['F-4']);
    ws.close();
  });

  test('ops limits what is delivered', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    await ws.subscribe({ id: 'd', table: 'posts', ops: ['DELETE'] });
    await database.query("insert into posts (title) values ('x')");
    await database.query("delete from posts where title = 'x'");
    const [only] = await ws.waitForChanges(1, 'd');
    expect(only?.op).toBe('DELETE');
    await database.query("insert into posts (title) values ('y')");
    await database.query("delete from posts where title = 'y'");
    await ws.waitForChanges(2, 'd');
    expect(ws.changes('d').map((c) => c.op)).toEqual(['DELETE', 'DELETE']);
    ws.close();
  });

  test('SSE takes filters and ops as query parameters', async ({ rowcast, database }) => {
    const sse = new TestSseClient(`${rowcast.url}/sse/orders?ops=INSERT&total=gte.10&status=neq.void`);
    await sse.opened();
    await database.query("insert into orders (order_number, total, status) values ('S-1', 5, 'new'), ('S-2', 10, 'void'), ('S-3', 11, 'new')");
    await database.query("update orders set total = 99");
    await database.query("insert into orders (order_number, total) values ('S-4', 1000)");
    const events = await sse.waitForEvents(2);
    expect(events.map((e) => e.row.order_number)).toEqual(['S-3', 'S-4']);
    sse.close();
  });
});

test('unsubscribe stops delivery and is acknowledged', async ({ rowcast, database }) => {
  const ws = await TestWsClient.connect(rowcast.url);
  await ws.subscribe({ id: 'a', table: 'posts' });
  await ws.subscribe({ id: 'b', table: 'posts' });
  await database.query("insert into posts (title) values ('one')");
  await ws.waitForChanges(1, 'a');
  ws.send({ type: 'unsubscribe', id: 'a' });
  await ws.waitFor((m) => m.type === 'unsubscribed' && m.id === 'a');
  await database.query("insert into posts (title) values ('two')");
  await ws.waitForChanges(2, 'b');
  expect(ws.changes('a')).toHaveLength(1);
  ws.close();
});

test('2,000 changes (one 1000-row transaction + 1000 single-row ones) arrive exactly once in commit order', async ({ rowcast, database }) => {
  const ws = await TestWsClient.connect(rowcast.url);
  await ws.subscribe({ id: 'p', table: 'posts' });
  const sse = new TestSseClient(`${rowcast.url}/sse/posts`);
  await sse.opened();
  await database.query("insert into posts (title) select 'bulk-' || g from generate_series(1, 1000) g");
  for (let i = 1; i <= 1000; i++) await database.query('insert into posts (title) values ($1)', [`single-${i}`]);
  const frames = await ws.waitForChanges(2000, 'p', 60_000);
  const events = await sse.waitForEvents(2000, 60_000);
  const expected = [...Array.from({ length: 1000 }, (_, i) => `bulk-${i + 1}`), ...Array.from({ length: 1000 }, (_, i) => `single-${i + 1}`)];
  expect(frames.map((f) => f.row.title)).toEqual(expected);
  expect(events.map((e) => e.row.title)).toEqual(expected);
  expect(new Set(frames.map((f) => f.id)).size).toBe(2000);
  ws.close();
  sse.close();
});

test('a 1 MB row arrives whole on WebSocket, SSE and /changes', async ({ rowcast, database }) => {
  const body = 'x'.repeat(1024 * 1024) + '✓';
  const ws = await TestWsClient.connect(rowcast.url);
  await ws.subscribe({ id: 'big', table: 'posts' });
  const sse = new TestSseClient(`${rowcast.url}/sse/posts`);
  await sse.opened();
  await database.query('insert into posts (title, body) values ($1, $2)', ['big', body]);
  const [frame] = await ws.waitForChanges(1, 'big');
  const [event] = await sse.waitForEvents(1);
  expect(frame?.row.body).toBe(body);
  expect(event?.row.body).toBe(body);
  const res = await fetch(`${rowcast.url}/changes/posts`);
  const json = (await res.json()) as { changes: Array<{ row: { body: string } }> };
  expect(json.changes.at(-1)?.row.body).toBe(body);
  ws.close();
  sse.close();
});
