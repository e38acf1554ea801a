/**
 * CONTRACT §6 over real HTTP: /health, /tables, /changes/:table (catch-up by
 * polling: oldest retained change first, limit, filters, cursors chained with
 * nothing lost or repeated) and /stats.
 */
import { ChangesResponseSchema, TableInfoSchema, type ChangeEvent } from '../src/protocol.js';
import { tableInfo } from './support/exposure.js';
import { expect, test } from './support/fixtures.js';
import { TestSseClient } from './support/sse-client.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

async function changes(base: string, path: string): Promise<{ changes: ChangeEvent[]; cursor: string }> {
  const res = await fetch(base + path);
  expect({ path, status: res.status }).toEqual({ path, status: 200 });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return ChangesResponseSchema.parse(await res.json()) as { changes: ChangeEvent[]; cursor: string };
}

/** Waits until the log (as /changes shows it) holds `count` changes of a table; the feed sequences asynchronously. */
async function settled(base: string, table: string, count: number): Promise<ChangeEvent[]> {
  return waitFor(
    async () => {
      const page = await changes(base, `/changes/${table}?limit=10000`);
      return page.changes.length >= count && page.changes;
    },
    { what: `${count} changes of ${table} in /changes` },
  );
}

const titles = (list: ChangeEvent[]) => list.map((c) => `${c.op} ${String(c.row.title)}`);

test('GET /health: 200 healthy with the database up and the listener connected', async ({ rowcast }) => {
  const res = await fetch(`${rowcast.url}/health`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(await res.json()).toMatchObject({ status: 'healthy', database: 'up', listener: 'connected' });
});

test('GET /tables: the three demo tables, their PostgreSQL column types, primary keys and read rules', async ({ rowcast }) => {
  const res = await fetch(`${rowcast.url}/tables`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { tables: unknown[] };
  const tables = body.tables.map((t) => TableInfoSchema.parse(t));
  expect(tables.map((t) => `${t.schema}.${t.name}`).sort()).toEqual(['public.notifications', 'public.orders', 'public.posts']);
  const byName = new Map(tables.map((t) => [t.name, t]));
  for (const t of tables) expect({ table: t.name, pk: t.primary_key }).toEqual({ table: t.name, pk: ['id'] });
  const cols = (name: string) => Object.fromEntries(byName.get(name)!.columns.map((c) => [c.name, [c.type, c.nullable]]));
  expect(cols('orders')).toMatchObject({
    id: ['bigint', false],
    order_number: ['text', true],
    customer_name: ['text', true],
    total: ['numeric(12,2)', true],
    status: ['text', true],
    created_at: ['timestamp with time zone', true],
    updated_at: ['timestamp with time zone', true],
  });
  expect(cols('posts')).toMatchObject({
    id: ['bigint', false],
    author_id: ['text', true],
    title: ['text', true],
    body: ['text', true],
    likes: ['integer', true],
    created_at: ['timestamp with time zone', true],
  });
  expect(cols('notifications')).toMatchObject({
    id: ['bigint', false],
    user_id: ['text', false],
    read: ['boolean', true],
    created_at: ['timestamp with time zone', true],
  });
  // Columns come in table order, id first.
  expect(byName.get('orders')!.columns[0]?.name).toBe('id');
  expect(Object.fromEntries(tables.map((t) => [t.name, t.read_rule]))).toEqual({
    orders: 'roles',
    posts: 'authenticated',
    notifications: 'owner',
  });
});

test('GET /tables: a column is nullable unless a validated NOT NULL of its own says otherwise (not one added NOT VALID, not a domain\'s)', async ({ rowcast, database }) => {
  await database.query(`
    create domain required_text as text not null;
    create table public.nullables (id int primary key, strict text not null, later text, via_domain required_text);
    alter table public.nullables add constraint later_given not null later not valid;
    select rowcast.expose('public.nullables');`);
  const info = await waitFor(async () => (await tableInfo(rowcast.url, 'nullables')) ?? false, { what: 'nullables served' });
  expect(Object.fromEntries(info.columns.map((c) => [c.name, c.nullable]))).toEqual({ id: false, strict: false, later: true, via_domain: true });
});

test('GET /changes without since: every retained change of that table, oldest first, only that table', async ({ rowcast, database }) => {
  await database.query("insert into posts (title) values ('a'), ('b')");
  await database.query("insert into orders (order_number) values ('O-1')");
  await database.query("update posts set likes = 7 where title = 'b'");
  await database.query("delete from posts where title = 'a'");
  const list = await settled(rowcast.url, 'posts', 4);
  expect(titles(list)).toEqual(['INSERT a', 'INSERT b', 'UPDATE b', 'DELETE a']);
  expect(list.every((c) => c.table === 'posts' && c.schema === 'public')).toBe(true);
  expect(list[2]).toMatchObject({ op: 'UPDATE', row: { likes: 7 }, old: { likes: 0 } });
  expect(list[0]?.old).toBeNull();
  expect(new Set(list.map((c) => c.id)).size).toBe(4);
  const orders = await settled(rowcast.url, 'orders', 1);
  expect(orders.map((c) => c.row.order_number)).toEqual(['O-1']);
});

test('GET /changes without since is never refused as expired while retention prunes the oldest changes alongside', { timeout: 30_000 }, async ({ rowcast, database }) => {
  let running = true;
  const writer = (async () => {
    for (let i = 0; running; i++) await database.query('insert into posts (title) values ($1)', [`p${i}`]);
  })();
  // Prunes almost everything, as often as it can: the oldest retained change keeps moving.
  const pruner = (async () => {
    while (running) await database.query("select rowcast.prune('100 milliseconds', 300)");
  })();
  const statuses = new Map<number, number>();
  try {
    const until = Date.now() + 4_000;
    while (Date.now() < until) {
      const { status } = await fetch(`${rowcast.url}/changes/posts?limit=1`).then(async (r) => ({ status: r.status, body: await r.text() }));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  } finally {
    running = false;
    await Promise.all([writer, pruner]);
  }
  expect([...statuses.keys()]).toEqual([200]);
  expect(statuses.get(200)).toBeGreaterThan(50);
  const { rows } = await database.query<{ pruned: string }>('select pruned_pos::text as pruned from rowcast.sequencer');
  expect(Number(rows[0]?.pruned)).toBeGreaterThan(0);
});

test('GET /changes: limit pages, and each cursor gives exactly the following changes, none twice', async ({ rowcast, database }) => {
  await database.query("insert into posts (title) select 'p' || g from generate_series(1, 7) g");
  await database.query("insert into posts (title) values ('p8')");
  const all = await settled(rowcast.url, 'posts', 8);
  const seen: ChangeEvent[] = [];
  let cursor: string | null = null;
  const sizes: number[] = [];
  for (let i = 0; i < 10; i++) {
    const page = await changes(rowcast.url, `/changes/posts?limit=3${cursor ? `&since=${cursor}` : ''}`);
    sizes.push(page.changes.length);
    seen.push(...page.changes);
    cursor = page.cursor;
    if (page.changes.length === 0) break;
  }
  expect(sizes).toEqual([3, 3, 2, 0]);
  expect(seen.map((c) => c.id)).toEqual(all.map((c) => c.id));
  // The id of a change is a cursor too: resuming from it gives what follows it.
  const after = await changes(rowcast.url, `/changes/posts?since=${all[4]!.id}`);
  expect(after.changes.map((c) => c.id)).toEqual(all.slice(5).map((c) => c.id));
});

test('GET /changes: an empty poll returns a cursor that still works', async ({ rowcast, database }) => {
  const empty = await changes(rowcast.url, '/changes/posts');
  expect(empty.changes).toEqual([]);
  // Changes of another table move the log on; the posts poller must not skip what follows.
  await database.query("insert into orders (order_number) values ('O-1')");
  await settled(rowcast.url, 'orders', 1);
  await database.query("insert into posts (title) values ('one')");
  await database.query("insert into posts (title) values ('two'), ('three')");
  // Polls the way a client does: always with the last cursor, until all three are in.
  const got: ChangeEvent[] = [];
  let cursor = empty.cursor;
  await waitFor(
    async () => {
      const page = await changes(rowcast.url, `/changes/posts?since=${cursor}`);
      got.push(...page.changes);
      cursor = page.cursor;
      return got.length >= 3;
    },
    { what: 'three posts by polling' },
  );
  expect(titles(got)).toEqual(['INSERT one', 'INSERT two', 'INSERT three']);
  const again = await changes(rowcast.url, `/changes/posts?since=${cursor}`);
  expect(again.changes).toEqual([]);
});

test('GET /changes reads your writes: a row committed before the request is in its answer', async ({ rowcast, database }) => {
  let { cursor } = await changes(rowcast.url, '/changes/posts');
  for (let i = 0; i < 20; i++) {
    await database.query('insert into posts (title) values ($1)', [`w${i}`]);
    const page = await changes(rowcast.url, `/changes/posts?since=${cursor}`);
    expect(titles(page.changes), `write ${i}`).toEqual([`INSERT w${i}`]);
    cursor = page.cursor;
  }
});

test('GET /changes: filters and ops select, and a filtered cursor chain loses nothing', async ({ rowcast, database }) => {
  await database.query(`insert into posts (title, likes) values ('x1', 1), ('x2', 10), ('x3', 5), ('x,4', 20), ('x5', 30)`);
  await database.query("update posts set likes = 0 where title = 'x5'");
  await database.query("delete from posts where title = 'x2'");
  await settled(rowcast.url, 'posts', 7);
  const q = async (query: string) => titles((await changes(rowcast.url, `/changes/posts?${query}`)).changes);
  expect(await q('likes=gte.10')).toEqual(['INSERT x2', 'INSERT x,4', 'INSERT x5', 'DELETE x2']);
  expect(await q('likes=gte.10&ops=INSERT')).toEqual(['INSERT x2', 'INSERT x,4', 'INSERT x5']);
  expect(await q(`title=${encodeURIComponent('in.(x1,"x,4")')}`)).toEqual(['INSERT x1', 'INSERT x,4']);
  expect(await q('ops=UPDATE,DELETE')).toEqual(['UPDATE x5', 'DELETE x2']);
  expect(await q('likes=lt.5&title=neq.x1')).toEqual(['UPDATE x5']);
  // limit=1 with a filter: the chain yields the filtered list exactly.
  const chained: string[] = [];
  let cursor = '';
  for (let i = 0; i < 10; i++) {
    const page = await changes(rowcast.url, `/changes/posts?likes=gte.10&limit=1${cursor ? `&since=${cursor}` : ''}`);
    chained.push(...titles(page.changes));
    cursor = page.cursor;
    if (page.changes.length === 0) break;
  }
  expect(chained).toEqual(['INSERT x2', 'INSERT x,4', 'INSERT x5', 'DELETE x2']);
});

test('GET /stats: connection and subscription counts follow what clients open and close', async ({ rowcast, database }) => {
  const stats = async () => {
    const res = await fetch(`${rowcast.url}/stats`);
    expect(res.status).toBe(200);
    return (await res.json()) as {
      connections: { ws: number; sse: number };
      subscriptions: number;
      changes: { received: number; delivered: number };
      listener: { connected: boolean; lag_ms: number };
    };
  };
  const start = await stats();
  expect(start).toMatchObject({ connections: { ws: 0, sse: 0 }, subscriptions: 0, changes: { received: 0, delivered: 0 }, listener: { connected: true } });
  expect(typeof start.listener.lag_ms).toBe('number');

  const a = await TestWsClient.connect(rowcast.url);
  const b = await TestWsClient.connect(rowcast.url);
  await a.subscribe({ id: 'a1', table: 'posts' });
  await a.subscribe({ id: 'a2', table: 'orders' });
  await b.subscribe({ id: 'b1', table: 'posts' });
  const sse = new TestSseClient(`${rowcast.url}/sse/posts`);
  await sse.opened();
  const open = await waitFor(async () => {
    const s = await stats();
    return s.connections.sse === 1 && s;
  });
  expect(open).toMatchObject({ connections: { ws: 2, sse: 1 }, subscriptions: 4 });

  // One post reaches a1, b1 and the SSE stream: three deliveries of one received change.
  await database.query("insert into posts (title) values ('counted')");
  await a.waitForChanges(1, 'a1');
  await b.waitForChanges(1, 'b1');
  await sse.waitForEvents(1);
  expect((await stats()).changes).toMatchObject({ received: 1, delivered: 3 });

  a.send({ type: 'unsubscribe', id: 'a2' });
  await a.waitFor((m) => m.type === 'unsubscribed');
  expect(await stats()).toMatchObject({ connections: { ws: 2, sse: 1 }, subscriptions: 3 });
  b.close();
  sse.close();
  const after = await waitFor(async () => {
    const s = await stats();
    return s.connections.ws === 1 && s.connections.sse === 0 && s;
  });
  expect(after.subscriptions).toBe(1);
  a.close();
});
