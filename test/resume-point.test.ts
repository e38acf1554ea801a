/**
 * Where a client resumes after its connection is cut: the cursors the server
 * hands over (SSE `event: cursor`, WebSocket `cursor`) move it past changes it
 * was not sent, so a stream that never saw a change misses nothing across a
 * drop, and a subscriber of a quiet table still resumes after the history of
 * its last change was pruned. Real clients: the `eventsource` package and
 * the SDK over `ws`, cut by a TCP proxy.
 */
import WebSocket from 'ws';
import { createClient, type RowcastClientError } from '../src/client/index.js';
import { compareCursors, decodeCursor } from '../src/capture/cursor.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { TestSseClient } from './support/sse-client.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import { waitFor } from './support/wait.js';

/** Cuts every connection and keeps the reconnect waiting until `meanwhile` has committed. */
async function dropWhile(proxy: TcpProxy, meanwhile: () => Promise<unknown>): Promise<void> {
  const before = proxy.accepted;
  proxy.hold();
  proxy.cut();
  await meanwhile();
  await waitFor(() => proxy.accepted > before, { what: 'the client to reconnect', timeoutMs: 10_000 });
  proxy.release();
}

test('an EventSource resumes from the cursor it was told: nothing missed from now, none expired after a quiet spell', { timeout: 30_000 }, async ({ database }) => {
  const server = await startTestServer(database.url, { sseKeepAliveMs: 100 });
  const proxy = await startTcpProxy(server.port);
  const client = new TestSseClient(`${proxy.url}/sse/posts`);
  const titles = () => client.events.map((e) => e.row.title);
  try {
    await client.opened();
    await waitFor(() => client.cursors.length === 1, { what: 'the start cursor' });

    // No change seen yet: without a cursor the reconnect would start "from now" and miss this one.
    await dropWhile(proxy, () => database.query("insert into posts (title) values ('while away')"));
    await client.waitForEvents(1);
    expect(titles()).toEqual(['while away']);

    // A quiet table: only orders are written, then history up to now is pruned.
    const lastChange = client.events[0]!.id;
    const told = client.cursors.length;
    for (let i = 0; i < 3; i++) await database.query("insert into orders (status) values ('elsewhere')");
    await waitFor(() => client.cursors.length > told, { what: 'a cursor past the last change' });
    await database.query("select rowcast.prune('0 seconds')");
    // The premise: the last change's own id is now refused.
    expect((await fetch(`${server.url}/changes/posts?since=${lastChange}`)).status).toBe(410);

    await dropWhile(proxy, () => database.query("insert into posts (title) values ('after the quiet spell')"));
    await client.waitForEvents(2);
    expect(titles()).toEqual(['while away', 'after the quiet spell']);
    await database.query("insert into posts (title) values ('live again')");
    await client.waitForEvents(3);
    expect(titles()).toEqual(['while away', 'after the quiet spell', 'live again']);
    expect(client.ids).toEqual(client.events.map((e) => e.id));
  } finally {
    client.close();
    await proxy.close();
    await server.close();
  }
});

test('the SDK over WebSocket resumes from the cursor a heartbeat told it: none expired after a quiet spell', { timeout: 30_000 }, async ({ database }) => {
  const server = await startTestServer(database.url, { heartbeatMs: 200 });
  const proxy = await startTcpProxy(server.port);
  const cursors: string[] = [];
  class RecordingWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.on('message', (data) => {
        const message = JSON.parse(data.toString()) as { type: string; cursor?: string };
        if (message.type !== 'cursor') return;
        // Exactly {"type":"cursor","sub":"…","cursor":"…"}.
        expect(Object.keys(message)).toEqual(['type', 'sub', 'cursor']);
        cursors.push(String(message.cursor));
      });
    }
  }
  const client = createClient({ url: proxy.url, WebSocket: RecordingWebSocket, backoff: { initialMs: 20, maxMs: 200 } });
  const errors: RowcastClientError[] = [];
  client.on('error', (error) => errors.push(error));
  const seen: Array<{ id: string; title: unknown }> = [];
  let subscribed = 0;
  client.subscribe('posts', { onSubscribed: () => (subscribed += 1) }, (c) => seen.push({ id: c.id, title: c.row.title }));
  try {
    await waitFor(() => subscribed === 1, { what: 'the subscription' });
    await database.query("insert into posts (title) values ('before')");
    await waitFor(() => seen.length === 1, { what: 'the first change' });
    const lastChange = decodeCursor(seen[0]!.id);
    expect(cursors).toEqual([]);

    for (let i = 0; i < 3; i++) await database.query("insert into orders (status) values ('elsewhere')");
    await waitFor(() => cursors.length > 0, { what: 'a cursor message' });
    expect(compareCursors(decodeCursor(cursors[0]!), lastChange)).toBeGreaterThan(0);
    await database.query("select rowcast.prune('0 seconds')");
    expect((await fetch(`${server.url}/changes/posts?since=${seen[0]!.id}`)).status).toBe(410);

    await dropWhile(proxy, () => database.query("insert into posts (title) values ('after the quiet spell')"));
    await waitFor(() => subscribed === 2, { what: 'the resubscription' });
    await waitFor(() => seen.length === 2, { what: 'the change committed while away' });
    expect(seen.map((c) => c.title)).toEqual(['before', 'after the quiet spell']);
    expect(errors).toEqual([]);
  } finally {
    client.close();
    await proxy.close();
    await server.close();
  }
});
