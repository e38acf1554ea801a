/**
 * CONTRACT §1, §3, §4 — a reader that stops reading: with 150 MB of changes
 * flowing, it is dropped with 1013 while the server's memory stays bounded and
 * other clients keep receiving; it then resumes from its last cursor and gets
 * every later change exactly once. A real server process, so its RSS is its own.
 */
import { readFileSync } from 'node:fs';
import { compareCursors, decodeCursor } from '../src/capture/cursor.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { startServerProcess } from './support/server-process.js';
import { getJson, within } from './support/tokens.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

const MB = 1024 * 1024;
/** Above one 1 MB frame, so a reader that keeps up is never over it; far below what flows. */
const MAX_BUFFER_BYTES = 2 * MB;
/**
 * 150 rows of 1 MB. With 50 MB the server's ordinary per-row cost (~80 MB of
 * RSS growth, measured) hides whether it held on to the stream; at 150 MB a
 * server that buffers for the paused reader grows ~260 MB, one that drops it ~85 MB.
 */
const ROWS = 150;

/** Resident memory of a process in bytes, from /proc. */
function rssOf(pid: number): number {
  const line = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!line) throw new Error(`no VmRSS for ${pid}`);
  return Number(line[1]) * 1024;
}

type Changes = Awaited<ReturnType<TestWsClient['waitForChanges']>>;

/** Waits until a resuming client has `count` changes; fails at once, naming it, if the server closes it. */
async function catchUp(client: TestWsClient, count: number, timeoutMs: number, who: string): Promise<Changes> {
  const done = client.waitForChanges(count, 'p', timeoutMs);
  done.catch(() => {}); // the race below reports the outcome
  const outcome = await Promise.race([
    done.then(() => 'caught up'),
    client.closed.then((c) => `closed with ${c.code} (${c.reason}) after ${client.changes('p').length} of ${count} changes`),
  ]);
  if (outcome !== 'caught up') throw new Error(`${who}: ${outcome}`);
  return client.changes('p');
}

test('a client that stops reading is closed with 1013, memory stays bounded, others continue, and it resumes exactly once', { timeout: 60_000 }, async ({ database }) => {
  const server = await startServerProcess({ DATABASE_URL: database.url, ROWCAST_MAX_BUFFER_BYTES: String(MAX_BUFFER_BYTES) });
  const pid = server.child.pid as number;
  try {
    const slow = await TestWsClient.connect(server.url);
    const fast = await TestWsClient.connect(server.url);
    await slow.subscribe({ id: 'p', table: 'posts' });
    await fast.subscribe({ id: 'p', table: 'posts' });
    // Warm the path once with a big row, so the baseline includes what any 1 MB row costs.
    await database.query('insert into posts (title, body) values ($1, repeat($2, $3))', ['warm-up', 'w', MB]);
    await slow.waitForChanges(1, 'p');
    await fast.waitForChanges(1, 'p');
    const baseline = rssOf(pid);

    slow.socket.pause(); // stops reading: the server's unsent bytes for it pile up
    let peak = baseline;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssOf(pid));
      } catch {
        // the process is gone; the assertions below say so
      }
    }, 20);
    try {
      // One row at a time, each delivered to the reading client before the next: it keeps up by construction.
      for (let i = 0; i < ROWS; i++) {
        await database.query('insert into posts (title, body) values ($1, repeat($2, $3))', [`big-${i}`, String.fromCharCode(97 + (i % 26)), MB]);
        await catchUp(fast, i + 2, 10_000, 'the client that keeps reading');
      }
    } finally {
      clearInterval(sampler);
    }
    const delivered = fast.changes('p');
    expect(delivered.map((c) => c.row.title)).toEqual(['warm-up', ...Array.from({ length: ROWS }, (_, i) => `big-${i}`)]);
    // Bounded: growth well under the volume that flowed past the paused reader.
    expect((peak - baseline) / MB, `RSS grew from ${Math.round(baseline / MB)} MB to ${Math.round(peak / MB)} MB`).toBeLessThan(ROWS);
    // The server let go of the paused reader (it read nothing since the pause) while the other one was served.
    await waitFor(async () => (await getJson(`${server.url}/stats`)).json.connections.ws === 1, { what: 'the slow consumer dropped' });
    expect(slow.changes()).toHaveLength(1);

    slow.socket.resume();
    const closed = await within(slow.closed, 15_000, 'the slow consumer to read its close frame');
    expect(closed).toEqual({ code: 1013, reason: expect.any(String) });
    const seen = slow.changes('p');
    // What it got is a prefix of the feed, in order, nothing skipped; then it resumes after the last one.
    expect(seen.map((c) => c.id)).toEqual(delivered.slice(0, seen.length).map((c) => c.id));
    expect(seen.length).toBeLessThan(ROWS + 1);
    const rest = delivered.slice(seen.length);

    const back = await TestWsClient.connect(server.url);
    await back.subscribe({ id: 'p', table: 'posts', since: seen.at(-1)?.id });
    const got = await catchUp(back, rest.length, 30_000, 'the dropped client, resuming from its last cursor');
    expect(got.map((c) => c.id)).toEqual(rest.map((c) => c.id));
    await database.query("insert into posts (title) values ('after resume')");
    await back.waitFor((m) => m.type === 'change' && m.row.title === 'after resume');
    const titles = back.changes('p').map((c) => c.row.title);
    expect(titles).toEqual([...rest.map((c) => c.row.title), 'after resume']);
    expect(new Set(back.changes('p').map((c) => c.id)).size).toBe(titles.length);
    back.close();
    fast.close();
  } finally {
    server.kill('SIGTERM');
    await server.exited;
  }
});

/** A server with a 1 MiB buffer limit and 16 MB of backlog after the cursor it returns. */
async function withBacklog(databaseUrl: string, query: (text: string, values: unknown[]) => Promise<unknown>, fn: (url: string, from: string) => Promise<void>) {
  const server = await startTestServer(databaseUrl, { maxBufferBytes: MB });
  try {
    const first = await TestWsClient.connect(server.url);
    const from = await first.subscribe({ id: 'p', table: 'posts' });
    first.close();
    // More than the limit plus what the kernel's socket buffers absorb, so the replay must wait for the reader.
    await query("insert into posts (title, body) select 'b-' || g, repeat('z', 262144) from generate_series(0, $1::int - 1) g", [BACKLOG_ROWS]);
    // Only once the feed has passed them are they backlog for the next subscriber (else they arrive live, in one burst).
    await waitFor(async () => {
      const stats = (await (await fetch(`${server.url}/stats`)).json()) as { feed: { cursor: string } };
      return compareCursors(decodeCursor(stats.feed.cursor), decodeCursor(from)) > 0;
    }, { what: 'the feed to have passed the backlog' });
    await fn(server.url, from);
  } finally {
    await server.close();
  }
}

const BACKLOG_ROWS = 64; // x 256 KB = 16 MB
const backlogTitles = Array.from({ length: BACKLOG_ROWS }, (_, i) => `b-${i}`);

test('resuming over WebSocket with a backlog larger than maxBufferBytes, reading at full speed, gets all of it', async ({ database }) => {
  await withBacklog(database.url, (t, v) => database.query(t, v), async (url, from) => {
    const ws = await TestWsClient.connect(url);
    await ws.subscribe({ id: 'p', table: 'posts', since: from });
    const got = await catchUp(ws, BACKLOG_ROWS, 20_000, 'a client resuming over WebSocket');
    expect(got.map((c) => c.row.title)).toEqual(backlogTitles);
    ws.close();
  });
});

test('resuming over SSE with a backlog larger than maxBufferBytes, reading at full speed, gets all of it', async ({ database }) => {
  await withBacklog(database.url, (t, v) => database.query(t, v), async (url, from) => {
    const res = await fetch(`${url}/sse/posts`, { headers: { 'last-event-id': from } });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const count = (text: string) => (text.match(/^event: change$/gm) ?? []).length;
    let text = '';
    let ended = false;
    const deadline = Date.now() + 20_000;
    while (count(text) < BACKLOG_ROWS && !ended && Date.now() < deadline) {
      const next = await within(reader.read(), 20_000, 'SSE bytes');
      ended = next.done;
      if (next.value) text += decoder.decode(next.value, { stream: true });
    }
    expect({ ended, events: count(text) }).toEqual({ ended: false, events: BACKLOG_ROWS });
    await reader.cancel();
  });
});
