/**
 * Debounced wake-ups (ROWCAST_WAKEUP=debounced): writers skip their NOTIFY
 * while the server is awake, and no wake-up is ever lost: a writer that saw
 * "awake" and commits after the server's last read is still delivered at once.
 * The fallback poll is set far out so that only a real wake-up can deliver.
 */
import type pg from 'pg';
import { expect, test } from './support/fixtures.js';
import { startTestServer } from './support/fixtures.js';
import { getJson } from './support/tokens.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

const AWAKE_LOCK = "locktype = 'advisory' and classid = 1919905635 and objid = 1 and mode = 'ExclusiveLock' and granted";

async function serverAwake(db: pg.Pool): Promise<boolean> {
  const { rows } = await db.query(`select count(*)::int as n from pg_locks where ${AWAKE_LOCK} and database = (select oid from pg_database where datname = current_database())`);
  return rows[0].n === 1;
}

test('a writer that saw the server awake and commits after its last read is delivered at once', async ({ database }) => {
  const server = await startTestServer(database.url, { fallbackPollMs: 600_000 });
  try {
    const ws = await TestWsClient.connect(server.url);
    await ws.subscribe({ id: 'p', table: 'posts' });

    // Keep writing until the server is awake (it then holds the awake lock).
    let load = true;
    let written = 0;
    const loader = (async () => {
      while (load && written < 20_000) {
        await database.query('insert into posts (title) values ($1)', [`load-${written++}`]);
      }
    })();
    await waitFor(() => serverAwake(database.pool), { what: 'the server to be awake under load' });

    // The late writer captures while the server is awake: its trigger skips the NOTIFY.
    const late = await database.pool.connect();
    await late.query('begin');
    await late.query("insert into posts (title) values ('late')");
    expect(await serverAwake(database.pool)).toBe(true);

    load = false;
    await loader;
    await waitFor(() => ws.changes('p').length === written, { timeoutMs: 15_000, what: 'the load to be delivered' });
    // The server stops being awake while the late writer is still open…
    await waitFor(async () => !(await serverAwake(database.pool)), { what: 'the server to leave the awake state' });
    // …and the late writer commits only now, with no NOTIFY of its own.
    await late.query('commit');
    late.release();

    const all = await ws.waitForChanges(written + 1, 'p', 3_000);
    expect(all.at(-1)?.row.title).toBe('late');
    expect(all).toHaveLength(written + 1);
    ws.close();
  } finally {
    await server.close();
  }
});

test('a rolling restart: an instance stopped while a writer that saw it awake is still open hands the wait over; the instance that stays delivers that write at once', async ({ database }) => {
  const a = await startTestServer(database.url, { fallbackPollMs: 600_000 });
  let b: Awaited<ReturnType<typeof startTestServer>> | null = null;
  try {
    let load = true;
    let written = 0;
    const loader = (async () => {
      while (load && written < 20_000) await database.query('insert into posts (title) values ($1)', [`load-${written++}`]);
    })();
    await waitFor(() => serverAwake(database.pool), { what: 'A to be awake under load' });
    const late = await database.pool.connect();
    try {
      await late.query('begin');
      await late.query("insert into posts (title) values ('late')");
      expect(await serverAwake(database.pool)).toBe(true);
      load = false;
      await loader;
      // A falls asleep and waits out the late writer; B comes up, never awake; then A goes.
      await waitFor(async () => !(await serverAwake(database.pool)), { what: 'A to leave the awake state' });
      b = await startTestServer(database.url, { fallbackPollMs: 600_000 });
      const ws = await TestWsClient.connect(b.url);
      await ws.subscribe({ id: 'p', table: 'posts' });
      await a.close();
      await late.query('commit');
      // Only A's hand-over (a wake-up naming the writers to wait out) can deliver it: B's safety read is far out.
      await ws.waitFor((m) => m.type === 'change' && m.row.title === 'late', 3_000);
      ws.close();
    } finally {
      late.release();
    }
  } finally {
    await a.close();
    await b?.close();
  }
});

test('an idle server is asleep: the first change after a quiet spell arrives through NOTIFY', async ({ database }) => {
  const server = await startTestServer(database.url, { fallbackPollMs: 600_000 });
  try {
    const ws = await TestWsClient.connect(server.url);
    await ws.subscribe({ id: 'p', table: 'posts' });
    await database.query("insert into posts (title) values ('first')");
    await ws.waitForChanges(1, 'p', 3_000);
    await waitFor(async () => !(await serverAwake(database.pool)), { what: 'the server to fall asleep' });
    await database.query("insert into posts (title) values ('after quiet')");
    const changes = await ws.waitForChanges(2, 'p', 3_000);
    expect(changes.map((c) => c.row.title)).toEqual(['first', 'after quiet']);
    ws.close();
  } finally {
    await server.close();
  }
});

test('ROWCAST_WAKEUP=always: the server never takes the awake lock, every writer notifies', async ({ database }) => {
  const server = await startTestServer(database.url, { fallbackPollMs: 600_000, wakeup: 'always' });
  try {
    const ws = await TestWsClient.connect(server.url);
    await ws.subscribe({ id: 'p', table: 'posts' });
    for (let i = 0; i < 200; i++) {
      await database.query('insert into posts (title) values ($1)', [`a-${i}`]);
      expect(await serverAwake(database.pool)).toBe(false);
    }
    const changes = await ws.waitForChanges(200, 'p');
    expect(changes.map((c) => c.row.title)).toEqual(Array.from({ length: 200 }, (_, i) => `a-${i}`));
    ws.close();
  } finally {
    await server.close();
  }
});

test('writers at full speed make an awake server read every 20 ms; every change still arrives once, in commit order; then it sleeps', async ({ database }) => {
  const server = await startTestServer(database.url, { fallbackPollMs: 600_000 });
  const pace = async (): Promise<number | null> => (await getJson(`${server.url}/stats`)).json.feed.pace_ms;
  try {
    const ws = await TestWsClient.connect(server.url);
    await ws.subscribe({ id: 'p', table: 'posts' });
    expect(await pace()).toBeNull();

    let load = true;
    let written = 0;
    const writers = await Promise.all(Array.from({ length: 8 }, () => database.pool.connect()));
    const loads = writers.map(async (writer, w) => {
      while (load) await writer.query('insert into posts (title) values ($1)', [`w${w}-${written++}`]);
    });
    try {
      await waitFor(async () => (await pace()) === 20, { timeoutMs: 20_000, what: 'the 20 ms pace of 2,000 tx/s and more' });
    } finally {
      load = false;
      await Promise.all(loads);
      for (const writer of writers) writer.release();
    }

    await ws.waitForChanges(written, 'p', 30_000);
    const { rows } = await database.query<{ title: string }>(
      "select c.row->>'title' as title from rowcast.transactions t join rowcast.changes c using (xid) where c.table_name = 'posts' order by t.pos, c.seq",
    );
    expect(rows).toHaveLength(written);
    expect(ws.changes('p').map((c) => c.row.title)).toEqual(rows.map((r) => r.title));
    await waitFor(async () => (await pace()) === null, { what: 'the server to fall asleep after the load' });
    ws.close();
  } finally {
    await server.close();
  }
});
