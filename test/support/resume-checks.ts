/**
 * One resume attempt from a given cursor on each transport (WebSocket
 * `since`, SSE `since` and Last-Event-ID, /changes `since`), reduced to what
 * the client saw: the change ids, or the error. Used by the retention tests.
 */
import { expect } from 'vitest';
import { HttpErrorBodySchema, SseCursorEventSchema } from '../../src/protocol.js';
import { openSse, sseEvents } from './sse-stream.js';
import { TestWsClient } from './ws-client.js';

export type Outcome = { ids: string[] } | { error: string; status?: number };

/** Subscribes over WebSocket from `since`; waits for `count` changes or an error frame. */
export async function wsResume(url: string, since: string, count: number): Promise<Outcome> {
  const ws = await TestWsClient.connect(url);
  try {
    ws.send({ type: 'subscribe', id: 'r', table: 'posts', since });
    const reply = await ws.waitFor((m) => (m.type === 'subscribed' && m.id === 'r') || (m.type === 'error' && m.ref === 'r'));
    if (reply.type === 'error') {
      // Errors never close the connection (CONTRACT §4): it still answers.
      ws.send({ type: 'ping', timestamp: 1 });
      await ws.waitFor((m) => m.type === 'pong');
      return { error: reply.code };
    }
    const changes = await ws.waitForChanges(count, 'r');
    return { ids: changes.map((c) => c.id) };
  } finally {
    ws.close();
  }
}

/** Opens the SSE stream from `since` (query or Last-Event-ID); reads `count` events or returns the refusal. */
export async function sseResume(url: string, since: string, count: number, via: 'query' | 'header'): Promise<Outcome> {
  const abort = new AbortController();
  // Bounded: a stream that never brings `count` events ends here, and the ids then show what came.
  const timer = setTimeout(() => abort.abort(), 10_000);
  const target = via === 'query' ? `${url}/sse/posts?since=${encodeURIComponent(since)}` : `${url}/sse/posts`;
  const res = await openSse(target, { signal: abort.signal, ...(via === 'header' ? { lastEventId: since } : {}) });
  if (!res.stream) {
    clearTimeout(timer);
    return refusal(res.status, res.body, res.contentType);
  }
  const ids: string[] = [];
  try {
    for await (const event of sseEvents(res.stream)) {
      // Where the stream starts (`event: cursor`): not a change.
      if (event.event === 'cursor' && event.id === SseCursorEventSchema.parse(JSON.parse(event.data)).cursor) continue;
      if (event.event !== 'change') return { error: `SSE ${event.event}: ${event.data}` };
      ids.push(event.id ?? '');
      if (ids.length === count) break;
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return { ids };
}

/** One GET /changes from `since`. */
export async function changesResume(url: string, since: string): Promise<Outcome> {
  const res = await fetch(`${url}/changes/posts?since=${encodeURIComponent(since)}&limit=10000`);
  const body = (await res.json()) as unknown;
  if (res.status !== 200) return refusal(res.status, body, res.headers.get('content-type'));
  return { ids: (body as { changes: Array<{ id: string }> }).changes.map((c) => c.id) };
}

/** An HTTP refusal must carry the JSON error body of CONTRACT §5. */
function refusal(status: number, body: unknown, contentType: string | null): Outcome {
  expect(contentType).toMatch(/^application\/json/);
  const parsed = HttpErrorBodySchema.parse(body);
  expect(parsed.error.message.length).toBeGreaterThan(0);
  return { error: parsed.error.code, status };
}

/** The same resume on every transport. */
export async function resumeEverywhere(url: string, since: string, count: number): Promise<Record<string, Outcome>> {
  return {
    ws: await wsResume(url, since, count),
    sseQuery: await sseResume(url, since, count, 'query'),
    sseLastEventId: await sseResume(url, since, count, 'header'),
    changes: await changesResume(url, since),
  };
}
