/**
 * Server-Sent Events, `GET /sse/:table` (CONTRACT §5). Everything that can be
 * refused is checked before the stream starts, so refusals are HTTP statuses;
 * after that each change is one event whose id is its cursor.
 */
import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { Logger } from 'pino';
import type { Change } from '../capture/change.js';
import { encodeCursor, type Cursor } from '../capture/cursor.js';
import { asRowcastError, RowcastError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import type { Subscription, SubscriptionSink } from '../hub/subscription.js';
import { SseQuerySchema, type SseCursorEvent } from '../protocol.js';
import { tokenOf, type Authenticator } from './authenticate.js';
import type { ConnectionRegistry, OpenConnection } from './connections.js';
import { parseFeedQuery } from './feed-query.js';
import { httpError } from './http-error.js';
import { checkOrigin, type OriginPolicy } from './origin.js';
import { TokenExpiryTimer } from './token-expiry.js';

export interface SseDeps {
  hub: Hub;
  authenticator: Authenticator;
  connections: ConnectionRegistry;
  log: Logger;
  keepAliveMs: number;
  maxBufferBytes: number;
  origins: OriginPolicy;
}

class SseConnection implements SubscriptionSink, OpenConnection {
  readonly transport = 'sse' as const;
  private stream: SSEStreamingApi | null = null;
  /** Bytes handed to the stream and not yet flushed to the socket. */
  private queuedBytes = 0;
  private closed = false;
  /** Backlog replays waiting for the stream to drain. */
  private writers: Array<() => void> = [];
  private readonly expiry = new TokenExpiryTimer(() => this.fail(new RowcastError('unauthorized', 'token expired')));
  /** Why the server ended the subscription, if it did before the stream was open. */
  failedEarly: RowcastError | null = null;
  private finish: () => void = () => {};
  readonly done = new Promise<void>((resolve) => {
    this.finish = resolve;
  });

  constructor(private readonly deps: SseDeps) {}

  attach(stream: SSEStreamingApi): void {
    this.stream = stream;
    stream.onAbort(() => this.close());
  }

  write(text: string | Uint8Array): void {
    const stream = this.stream;
    if (this.closed || !stream) return;
    const bytes = typeof text === 'string' ? Buffer.byteLength(text) : text.byteLength;
    this.queuedBytes += bytes;
    stream.write(text).then(
      () => {
        this.queuedBytes -= bytes;
        if (this.queuedBytes <= this.deps.maxBufferBytes / 2) this.wakeWriters();
      },
      () => this.close(),
    );
    // A reader that does not keep up is dropped; it resumes with Last-Event-ID.
    if (this.queuedBytes > this.deps.maxBufferBytes) {
      this.deps.connections.slowConsumerDrops.sse += 1;
      this.close();
    }
  }

  deliver(change: Change): void {
    this.write(change.sseFrame);
    this.deps.connections.delivered.sse += 1;
  }

  whenWritable(): Promise<void> | null {
    if (this.closed || this.queuedBytes <= this.deps.maxBufferBytes / 2) return null;
    return new Promise((resolve) => this.writers.push(resolve));
  }

  private wakeWriters(): void {
    const writers = this.writers;
    this.writers = [];
    for (const resolve of writers) resolve();
  }

  tell(cursor: Cursor): void {
    this.write(cursorEvent(cursor));
  }

  ended(subscription: Subscription, error: RowcastError): void {
    this.deps.hub.remove(subscription);
    this.fail(error);
  }

  /** A stream does not outlive its token: past `exp` and the clock tolerance it ends with an `unauthorized` error event. */
  expireAt(endsAtMs: number | null): void {
    this.expiry.arm(endsAtMs);
  }

  private fail(error: RowcastError): void {
    // Ended while its `since` read was in flight (a rule change): the handler answers with a status.
    if (!this.stream && !this.closed) this.failedEarly = error;
    this.write(errorEvent(error));
    this.close();
  }

  shutdown(): void {
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.expiry.disarm();
    this.wakeWriters();
    this.finish();
  }
}

/**
 * Moves the client's Last-Event-ID: EventSource keeps the id of every event it
 * dispatches, and a listener of `change` does not see this one.
 */
const cursorEvent = (cursor: Cursor) => {
  const data: SseCursorEvent = { cursor: encodeCursor(cursor) };
  return `id: ${data.cursor}\nevent: cursor\ndata: ${JSON.stringify(data)}\n\n`;
};

const errorEvent = (error: RowcastError) => `event: error\ndata: ${JSON.stringify({ code: error.code, message: error.message })}\n\n`;

export function sseHandler(deps: SseDeps) {
  return async (c: Context): Promise<Response> => {
    const url = new URL(c.req.url);
    let connection: SseConnection | null = null;
    let subscribed: Awaited<ReturnType<Hub['subscribe']>>;
    try {
      const principal = await deps.authenticator.authenticate(tokenOf(c.req.raw.headers, url));
      try {
        checkOrigin(c.req.raw.headers, deps.origins);
      } catch (error) {
        deps.connections.refuse('forbidden_origin');
        throw error;
      }
      const { query, filter } = parseFeedQuery(url, SseQuerySchema);
      const request = {
        table: c.req.param('table') ?? '',
        ...(query.ops ? { ops: query.ops } : {}),
        ...(filter ? { filter } : {}),
        principal,
      };
      if (!deps.connections.hasRoom()) {
        throw new RowcastError('too_many_connections', 'the server is at its connection limit');
      }
      // Hono answers HEAD with the GET handler and drops its body unread, so
      // a stream opened for it would never hear that the client left.
      if (c.req.method === 'HEAD') {
        deps.hub.match(request);
        return c.body(null, 200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      }
      const since = c.req.header('last-event-id') || query.since;
      connection = new SseConnection(deps);
      // Counted from here, not from the stream: opens reading their backlog count against the limit.
      deps.connections.add(connection);
      connection.expireAt(principal.endsAtMs);
      subscribed = await deps.hub.subscribe({ ...request, id: 'sse', ...(since ? { since } : {}), sink: connection });
    } catch (error) {
      if (connection) deps.connections.delete(connection);
      const e = asRowcastError(error);
      if (e.code === 'unauthorized') deps.connections.refuse('unauthorized');
      return httpError(c, e);
    }
    const { subscription, start } = subscribed;
    const opened = connection;
    const release = () => {
      deps.hub.unsubscribe(subscription);
      deps.connections.delete(opened);
    };
    if (opened.failedEarly) {
      release();
      return httpError(c, opened.failedEarly);
    }
    c.header('X-Accel-Buffering', 'no');
    return streamSSE(
      c,
      async (stream) => {
        try {
          // Ended between the answer and now: say why, as a stream ended later would.
          if (opened.failedEarly) {
            await stream.write(errorEvent(opened.failedEarly));
            return;
          }
          opened.attach(stream);
          // Tells the client where it starts, as a comment: EventSource ignores it.
          opened.write(`: subscribed ${subscription.table.key} at ${encodeCursor(subscription.cursor)}\n\n`);
          // Also as its id, so a reconnect before the first change resumes here, not "from now".
          opened.write(cursorEvent(subscription.cursor));
          const keepAlive = setInterval(() => {
            opened.write(': keep-alive\n\n');
            const news = deps.hub.cursorNews(subscription);
            if (news) opened.write(cursorEvent(news));
          }, deps.keepAliveMs);
          try {
            await start();
            await opened.done;
          } finally {
            clearInterval(keepAlive);
          }
        } finally {
          release();
        }
      },
      async (error) => {
        deps.log.warn({ err: error }, 'SSE stream failed');
      },
    );
  };
}
