/**
 * Clients that keep a feed going the way CONTRACT §3 tells them to (the loop
 * and its order checks: resumer.ts). The WebSocket and SSE clients drop their
 * connection every few hundred ms on purpose (or lose it to a dying server)
 * and reconnect with `since` / Last-Event-ID from the last change or cursor
 * frame they saw; the /changes client polls with `since` and a varying
 * `limit`. Each records every change event it received, across all its
 * connections, in order.
 */
import { SseCursorEventSchema, type ChangeEvent } from '../../src/protocol.js';
import { bareEvent } from './delivery-check.js';
import { fetchChanges } from './feed-log.js';
import { pause, RETRY_MS, Resumer, subscriptionQuery, type ResumerOptions } from './resumer.js';
import { openSse, sseEvents } from './sse-stream.js';
import { TestWsClient } from './ws-client.js';

export class WsResumer<Since extends string | undefined = string | undefined> extends Resumer<Since> {
  protected async connection(url: string, where: string): Promise<void> {
    const { token, table, ops, filter } = this.options;
    const client = await TestWsClient.connect(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    // A socket error after open (server killed) must not become an unhandled 'error' event.
    client.socket.on('error', () => {});
    const since = this.cursor;
    // Handled as they arrive, so the cursor is always the newest one seen.
    client.socket.on('message', (data) => {
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      if (m.type === 'subscribed' && m.id === 'r') this.started(String(m.cursor), since, where);
      else if (m.type === 'change' && m.sub === 'r') this.change(bareEvent(m) as unknown as ChangeEvent, where);
      else if (m.type === 'cursor' && m.sub === 'r') this.cursorFrame(String(m.cursor), where);
      else if (m.type === 'error') this.refusals.push(`${String(m.code)}: ${String(m.message)}`);
    });
    try {
      const subscribed = client.subscribe({
        id: 'r',
        table,
        ...(ops ? { ops } : {}),
        ...(filter ? { filter } : {}),
        ...(since !== undefined ? { since } : {}),
      });
      // It may reject after the race below was lost to a close: not an unhandled rejection.
      subscribed.catch(() => {});
      // A peer the heartbeat dropped before the reply: that connection is over.
      const lost = await Promise.race([subscribed.then(() => null), client.closed]);
      if (lost) {
        this.drops.push(`${lost.code} ${lost.reason} before subscribed`);
        return;
      }
      const closed = await Promise.race([this.hold().then(() => null), client.closed]);
      if (closed) this.drops.push(`${closed.code} ${closed.reason}`);
    } finally {
      client.close();
      // Frames that arrive until the close completes count as seen: only then is the cursor final.
      await client.closed;
      for (const text of client.malformed) this.refusals.push(`malformed frame ${text.slice(0, 200)}`);
    }
  }
}

export class SseResumer<Since extends string | undefined = string | undefined> extends Resumer<Since> {
  protected async connection(url: string, where: string): Promise<void> {
    const query = subscriptionQuery(this.options);
    if (this.options.token) query.set('token', this.options.token);
    const abort = new AbortController();
    void this.hold().then(() => abort.abort());
    const since = this.cursor;
    const res = await openSse(`${url}/sse/${this.options.table}?${query}`, { ...(since !== undefined ? { lastEventId: since } : {}), signal: abort.signal });
    if (!res.stream) {
      abort.abort();
      this.refusals.push(`HTTP ${res.status} ${JSON.stringify(res.body)}`);
      await pause(RETRY_MS);
      return;
    }
    let first = true;
    try {
      for await (const event of sseEvents(res.stream)) {
        if (event.event === 'cursor') {
          // What an EventSource does: every event's id becomes its Last-Event-ID.
          const { cursor } = SseCursorEventSchema.parse(JSON.parse(event.data));
          if (event.id !== cursor) this.violations.push(`${where}: SSE id ${event.id} is not the cursor ${cursor}`);
          if (first) this.started(cursor, since, where);
          else this.cursorFrame(cursor, where);
        } else if (event.event === 'change') {
          if (first) this.violations.push(`${where}: a change before the start cursor`);
          const change = JSON.parse(event.data) as ChangeEvent;
          if (event.id !== change.id) this.violations.push(`${where}: SSE id ${event.id} is not the change id ${change.id}`);
          this.change(change, where);
        } else {
          this.refusals.push(`SSE ${event.event}: ${event.data}`);
        }
        first = false;
      }
      if (!abort.signal.aborted) this.drops.push('ended');
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    } finally {
      abort.abort();
    }
  }
}

/** Polls GET /changes/:table with `since` and a `limit` that varies, so pages end inside transactions. */
export class ChangesPoller extends Resumer<string> {
  constructor(
    options: ResumerOptions<string> & { since: string },
    private readonly limits: readonly number[] = [1, 3, 7, 50, 500],
  ) {
    super({ maxCycles: 20_000, ...options });
  }

  protected async connection(url: string, where: string): Promise<void> {
    const limit = this.limits[this.cycles % this.limits.length] as number;
    const page = await fetchChanges(url, this.options, this.cursor, limit);
    if (typeof page === 'string') {
      this.refusals.push(page);
      await pause(RETRY_MS);
      return;
    }
    if (page.changes.length > limit) this.refusals.push(`/changes returned ${page.changes.length} changes for limit=${limit}`);
    for (const change of page.changes) this.change(change, where);
    this.cursor = page.cursor;
    // Caught up: poll again a little later, as a polling client does.
    if (page.changes.length === 0) await pause(20);
  }
}
