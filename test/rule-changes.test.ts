/**
 * CONTRACT §7, a client never receives a row its rule hides, also when the
 * DBA narrows a rule in the same transaction as a write: the rule committed
 * with (or before) a change is the one it is judged by, live, on resume and
 * on /changes. The NOTIFY that tells servers of a rule arrives on another
 * connection, in no order with the reads of the log; the registry's version
 * read after the changes orders them (sql/0007).
 */
import type { TestDatabase } from './support/database.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { bearer, connectAs, getJson, hmacToken, SECRET } from './support/tokens.js';
import { waitFor } from './support/wait.js';

const RUNS = 5;

/** In one transaction: orders readable by admin only, and a row staff must not see. */
async function narrowAndWrite(database: TestDatabase, orderNumber: string): Promise<void> {
  const client = await database.pool.connect();
  try {
    await client.query('begin');
    await client.query("select rowcast.expose('public.orders', roles => array['admin'])");
    await client.query('insert into orders (order_number) values ($1)', [orderNumber]);
    await client.query('commit');
  } finally {
    client.release();
  }
}

/** Once staff may read orders again (a fresh catalog may lag the last widening): the cursor at the end of the log. */
function readableCursor(url: string, headers: Record<string, string>): Promise<string> {
  return waitFor(
    async () => {
      const res = await getJson(`${url}/changes/orders`, headers);
      return res.status === 200 ? (res.json.cursor as string) : false;
    },
    { what: 'staff to read orders again' },
  );
}

const widen = (database: TestDatabase) => database.query("select rowcast.expose('public.orders', roles => array['admin', 'staff'])");

/**
 * RUNS times on one server with auth: the cursor staff may read from, the
 * rule narrowed with a write, `check` on what staff gets, the rule widened.
 */
async function eachNarrowing(
  database: TestDatabase,
  check: (url: string, headers: Record<string, string>, before: string, run: number) => Promise<void>,
): Promise<void> {
  const server = await startTestServer(database.url, { jwt: { secret: SECRET } });
  try {
    const headers = bearer(await hmacToken({ sub: 's1', role: 'staff' }));
    for (let run = 0; run < RUNS; run++) {
      const before = await readableCursor(server.url, headers);
      await narrowAndWrite(database, `secret-${run}`);
      await check(server.url, headers, before, run);
      await widen(database);
    }
  } finally {
    await server.close();
  }
}

test('a rule narrowed with a write in one transaction: live subscribers get forbidden, never the row', async ({ database }) => {
  const server = await startTestServer(database.url, { jwt: { secret: SECRET } });
  try {
    const staff = await connectAs(server.url, await hmacToken({ sub: 's1', role: 'staff' }));
    for (let run = 0; run < RUNS; run++) {
      const orders = `o${run}`;
      const posts = `p${run}`;
      // A fresh server catalog may lag the widening of the last run by a moment.
      await waitFor(
        async () => {
          staff.send({ type: 'subscribe', id: orders, table: 'orders' });
          const reply = await staff.waitFor((m) => (m.type === 'subscribed' && m.id === orders) || (m.type === 'error' && m.ref === orders));
          staff.messages.splice(staff.messages.indexOf(reply), 1);
          return reply.type === 'subscribed';
        },
        { what: 'staff to read orders again' },
      );
      await staff.subscribe({ id: posts, table: 'posts' });
      await narrowAndWrite(database, `secret-${run}`);
      // Commit order: once a later post is here, the order would have been too.
      await database.query('insert into posts (title) values ($1)', [`after-${run}`]);
      await staff.waitForChanges(1, posts);
      expect(await staff.waitFor((m) => m.type === 'error' && m.ref === orders)).toMatchObject({ code: 'forbidden' });
      expect(staff.changes(orders)).toEqual([]);
      staff.send({ type: 'unsubscribe', id: posts });
      await staff.waitFor((m) => m.type === 'unsubscribed' && m.id === posts);
      await widen(database);
    }
    staff.close();
  } finally {
    await server.close();
  }
});

test('a rule narrowed with a write in one transaction: /changes right after answers 403, never the row', async ({ database }) => {
  await eachNarrowing(database, async (url, headers, before) => {
    // Until a pass has placed the transaction, the log reads empty after `before`.
    const res = await waitFor(
      async () => {
        const r = await getJson(`${url}/changes/orders?since=${before}`, headers);
        return r.status === 200 && r.json.changes.length === 0 ? false : r;
      },
      { what: 'the write to be placed' },
    );
    expect(res.status, JSON.stringify(res.json)).toBe(403);
    expect(JSON.stringify(res.json)).not.toContain('secret');
  });
});

test('a rule narrowed with a write in one transaction: an SSE resume right after is refused or ends with forbidden, never the row', async ({ database }) => {
  await eachNarrowing(database, async (url, headers, before, run) => {
    // Depending on what the server has seen of the rule: 403 at once, or a stream the rule
    // then ends. Never the row, and never a stream that ends without saying why.
    const res = await fetch(`${url}/sse/orders?since=${before}`, { headers });
    const text = await res.text();
    expect(text).not.toContain('secret');
    if (res.status !== 403) {
      expect(res.status).toBe(200);
      expect(text, `run ${run}`).toMatch(/event: error\ndata: \{"code":"forbidden"/);
    }
  });
});

test('a token refreshed after the rule changed is judged by the rule as it is now, not as it was when the subscription began', async ({ database }) => {
  const server = await startTestServer(database.url, { jwt: { secret: SECRET } });
  try {
    await database.query("select rowcast.expose('public.orders', roles => array['admin', 'staff', 'intern'])");
    const intern = await hmacToken({ sub: 'i1', role: 'intern' });
    const staff = await connectAs(server.url, await hmacToken({ sub: 's1', role: 'staff' }));
    await waitFor(async () => (await getJson(`${server.url}/changes/orders`, bearer(intern))).status === 200, { what: 'interns to read orders' });
    await staff.subscribe({ id: 'o', table: 'orders' });
    // Narrowed: staff still reads all of orders, so the subscription goes on.
    await database.query("select rowcast.expose('public.orders', roles => array['admin', 'staff'])");
    await waitFor(async () => (await getJson(`${server.url}/changes/orders`, bearer(intern))).status === 403, { what: 'the narrowed rule to be served' });
    staff.send({ type: 'auth', token: intern });
    expect(await staff.waitFor((m) => (m.type === 'error' && m.ref === 'o') || m.type === 'authenticated')).toMatchObject({ type: 'error', code: 'forbidden' });
    await staff.subscribe({ id: 'p', table: 'posts' });
    await database.query("insert into orders (order_number) values ('for staff only')");
    await database.query("insert into posts (title) values ('after')");
    // Commit order: once the later post is here, the order would have been too.
    await staff.waitForChanges(1, 'p');
    expect(staff.changes('o')).toEqual([]);
    staff.close();
  } finally {
    await server.close();
  }
});
