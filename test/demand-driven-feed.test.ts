/**
 * The feed reads only the tables someone subscribes to; every table is still
 * sequenced. These show that the switch is invisible to clients: a table's
 * first subscriber, arriving while the feed is in the middle of a pass, gets
 * every change after its `subscribed` cursor exactly once, and a transaction
 * left open across many thousands of later transaction ids is still delivered
 * once, in commit order.
 */
import { expect, test } from './support/fixtures.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

/** Ids of the log's changes of `table` after `since`, from the HTTP catch-up surface. */
async function logAfter(baseUrl: string, table: string, since: string): Promise<string[]> {
  const res = await fetch(`${baseUrl}/changes/${table}?since=${encodeURIComponent(since)}&limit=10000`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { changes: Array<{ id: string }> };
  return body.changes.map((c) => c.id);
}

test('first subscribers of a table the feed was not reading get every change after their cursor, none twice', { timeout: 60_000 }, async ({ database, rowcast }) => {
  const ws = await TestWsClient.connect(rowcast.url);
  // Another table keeps the feed awake and reading while orders has no subscriber.
  await ws.subscribe({ id: 'keep-awake', table: 'posts' });
  let writing = true;
  const writers = [
    (async () => {
      for (let n = 0; writing; n++) await database.query('insert into orders (order_number) values ($1)', [`o-${n}`]);
    })(),
    (async () => {
      for (let n = 0; writing; n++) await database.query('insert into posts (title) values ($1)', [`p-${n}`]);
    })(),
  ];
  try {
    let previous: string | null = null;
    for (let round = 0; round < 30; round++) {
      const id = `round-${round}`;
      // Odd rounds resume from the previous round's cursor; even ones start now.
      const since = round % 2 === 1 && previous !== null ? previous : undefined;
      const cursor = await ws.subscribe({ id, table: 'orders', ...(since ? { since } : {}) });
      const start = since ?? cursor;
      await waitFor(() => ws.changes(id).length >= 5, { what: `changes for ${id}` });
      ws.send({ type: 'unsubscribe', id });
      await ws.waitFor((m) => m.type === 'unsubscribed' && m.id === id);
      const received = ws.changes(id).map((c) => c.id);
      const log = await logAfter(rowcast.url, 'orders', start);
      expect(received, `${id} against the log after ${start}`).toEqual(log.slice(0, received.length));
      previous = cursor;
    }
  } finally {
    writing = false;
    await Promise.all(writers);
  }
  expect(ws.malformed).toEqual([]);
  ws.close();
});

test('a transaction open across 20,000 later transaction ids is delivered once, after the ones that committed first', { timeout: 60_000 }, async ({ database, rowcast }) => {
  const ws = await TestWsClient.connect(rowcast.url);
  await ws.subscribe({ id: 'o', table: 'orders' });
  const early = await database.pool.connect();
  const burner = await database.pool.connect();
  try {
    await early.query('begin');
    await early.query("insert into orders (order_number) values ('opened first')");
    // Each iteration commits a transaction that took an id of its own.
    await burner.query('set synchronous_commit = off');
    await burner.query('do $$ begin for i in 1..20000 loop perform pg_current_xact_id(); commit; end loop; end $$');
    await database.query("insert into orders (order_number) values ('committed first')");
    await ws.waitForChanges(1, 'o', 5_000);
    await early.query('commit');
    const changes = await ws.waitForChanges(2, 'o', 5_000);
    expect(changes.map((c) => c.row.order_number)).toEqual(['committed first', 'opened first']);
    await database.query("insert into orders (order_number) values ('after')");
    await ws.waitForChanges(3, 'o', 5_000);
    expect(ws.changes('o').map((c) => c.row.order_number)).toEqual(['committed first', 'opened first', 'after']);
  } finally {
    early.release();
    burner.release();
    ws.close();
  }
});
