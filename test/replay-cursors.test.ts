/**
 * A filtered subscription resuming from far back is told where the replay
 * stands after each page of the backlog it passed over, so a client that
 * keeps losing its connection before the next match still gets further each
 * time (without that, every reconnect read the same pages again).
 */
import { decodeCursor, compareCursors } from '../src/capture/cursor.js';
import { expect, test } from './support/fixtures.js';
import { TestSseClient } from './support/sse-client.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

test('a subscription whose filter passes over whole backlog pages gets a cursor frame after each; resuming from those reaches the match', async ({ rowcast, database }) => {
  const watcher = await TestWsClient.connect(rowcast.url);
  const since = await watcher.subscribe({ id: 'w', table: 'posts' });
  // 2,500 inserts (the backlog is read 1,000 changes a page), then the one update the filter wants.
  await database.query("insert into posts (title) select 'filler ' || g from generate_series(1, 2500) g");
  await database.query("update posts set likes = 1 where title = 'filler 2500'");
  await watcher.waitForChanges(2501, 'w');
  const update = watcher.changes('w').at(-1)!;
  watcher.close();

  // A client that drops as soon as it is told a cursor, and resumes from it.
  let from = since;
  const told: string[] = [];
  for (let connection = 0; connection < 10; connection++) {
    const ws = await TestWsClient.connect(rowcast.url);
    ws.send({ type: 'subscribe', id: 'u', table: 'posts', ops: ['UPDATE'], since: from });
    const next = await ws.waitFor((m) => (m.type === 'cursor' && m.sub === 'u') || (m.type === 'change' && m.sub === 'u'));
    ws.close();
    if (next.type === 'change') {
      expect(next.id).toBe(update.id);
      break;
    }
    if (next.type !== 'cursor') throw new Error('unreachable');
    told.push(next.cursor);
    expect(compareCursors(decodeCursor(next.cursor), decodeCursor(from)), 'each cursor moves on').toBeGreaterThan(0);
    expect(compareCursors(decodeCursor(next.cursor), decodeCursor(update.id)), 'and never past the match').toBeLessThan(0);
    from = next.cursor;
  }
  expect(told).toHaveLength(2);

  // SSE is told the same, as cursor events (each moves Last-Event-ID).
  const sse = new TestSseClient(`${rowcast.url}/sse/posts?ops=UPDATE&since=${encodeURIComponent(since)}`);
  try {
    await sse.opened();
    await waitFor(() => sse.events.length === 1, { what: 'the update over SSE' });
    // The start cursor, then one after each page passed over.
    expect(sse.cursors.slice(1)).toEqual(told);
    expect(sse.events[0]!.id).toBe(update.id);
  } finally {
    sse.close();
  }
});
