/**
 * Server-Sent Events for environments without WebSocket (CONTRACT §5): one
 * EventSource per subscription. EventSource reconnects by itself and sends
 * Last-Event-ID, the cursor of the last change, so the server resumes right
 * after it; change ids already handed over are dropped. It gives up on an
 * HTTP error: over the connection limit (503) a new one is opened with
 * backoff, from the last cursor; any other refusal ends the subscription.
 */
import { ChangeEventSchema, HttpErrorBodySchema } from '../protocol.js';
import { backoffDelay, DEFAULT_BACKOFF, RowcastClientError, type BackoffOptions } from './connection-state.js';
import { endpointsOf } from './socket.js';
import { ClientSubscription, type ChangeEvent, type SubscribeOptions } from './subscription.js';
import type { RowcastTables } from './tables.js';

export interface SseMessageEvent {
  readonly data?: unknown;
  /** The HTTP status of a refused stream, where the implementation tells it (`eventsource` does, browsers do not). */
  readonly code?: number | undefined;
}

/** The part of the WHATWG EventSource API used here; the browser's and the `eventsource` package's both have it. */
export interface EventSourceLike {
  readonly readyState: number;
  addEventListener(type: 'open' | 'change' | 'error', listener: (event: SseMessageEvent) => void): void;
  close(): void;
}

export type EventSourceConstructor = new (url: string) => EventSourceLike;

export interface SseOptions<R> extends SubscribeOptions<R> {
  /** A JWT, sent as `?token=` since EventSource cannot set headers. */
  token?: string;
  /** Defaults to the global EventSource; in Node pass the one of the `eventsource` package. */
  EventSource?: EventSourceConstructor;
  /** The stream ended for good: refused (HTTP 4xx) or ended by the server. */
  onError?: (error: RowcastClientError) => void;
  /** Between new streams when the server was over its connection limit (HTTP 503). */
  backoff?: Partial<BackoffOptions>;
}

/** EventSource.CLOSED: the source gave up and will not reconnect. */
const CLOSED = 2;

/** The error code of each refusal status of CONTRACT §5. */
const CODE_OF_STATUS: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'unknown_table',
  410: 'cursor_expired',
  503: 'too_many_connections',
};

/** The URL of `GET /sse/:table` with ops, since, token and filters as query parameters. */
export function sseUrl(url: string, table: string, options: SseOptions<Record<string, unknown>>): string {
  const target = new URL(`${endpointsOf(url).http}/sse/${encodeURIComponent(table)}`);
  if (options.ops) target.searchParams.set('ops', options.ops.join(','));
  if (options.since) target.searchParams.set('since', options.since);
  if (options.token) target.searchParams.set('token', options.token);
  for (const [column, condition] of Object.entries(options.filter ?? {})) {
    if (condition !== undefined) target.searchParams.set(column, condition);
  }
  return target.toString();
}

function errorOf(data: unknown, fallback: string): RowcastClientError {
  try {
    const body = JSON.parse(String(data)) as unknown;
    const wrapped = HttpErrorBodySchema.safeParse(body);
    const error = wrapped.success ? wrapped.data.error : HttpErrorBodySchema.shape.error.parse(body);
    return new RowcastClientError(error.code, error.message);
  } catch {
    return new RowcastClientError('unavailable', fallback);
  }
}

/**
 * Subscribes to one table over SSE; `onChange` sees each change once, in
 * commit order, across reconnects. Returns the function that stops it.
 */
export function subscribeSse<Tables = RowcastTables, K extends keyof Tables & string = keyof Tables & string>(
  url: string,
  table: K,
  options: SseOptions<Tables[K]>,
  onChange: (change: ChangeEvent<Tables[K]>) => void,
): () => void {
  const EventSourceImpl = options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
  if (!EventSourceImpl) throw new Error('no EventSource implementation: pass { EventSource } (in Node, the one of the `eventsource` package)');
  const report = (error: RowcastClientError) => {
    try {
      options.onError?.(error);
    } catch {
      // A throwing error handler has nowhere left to report to.
    }
  };
  // The server's rows are trusted to have the table's shape: that is what `rowcast types` describes.
  const subscription = new ClientSubscription('sse', table, options, onChange as (change: ChangeEvent) => void);
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  let source: EventSourceLike;
  let retry: ReturnType<typeof setTimeout> | null = null;
  let attempt = 0;
  const fail = (error: RowcastClientError) => {
    source.close();
    report(error);
  };
  // Nothing thrown in a listener may escape: Node's EventTarget would make it an uncaught exception.
  const guarded = (what: string, fn: (event: SseMessageEvent) => void) => (event: SseMessageEvent) => {
    try {
      fn(event);
    } catch (error) {
      report(new RowcastClientError('handler_failed', `${what}: ${(error as Error).message}`, table));
    }
  };
  /** A source from the subscription's cursor: the first, or one after EventSource gave up on a refusal that may pass. */
  const open = () => {
    retry = null;
    const since = subscription.request().since;
    source = new EventSourceImpl(sseUrl(url, table, { ...(options as SseOptions<Record<string, unknown>>), ...(since === undefined ? {} : { since }) }));
    // The server subscribes before it answers, so an open stream is a set-up subscription.
    source.addEventListener(
      'open',
      guarded('onSubscribed failed', () => {
        attempt = 0;
        if (!subscription.cancelled) options.onSubscribed?.();
      }),
    );
    source.addEventListener(
      'change',
      guarded('a change event could not be handled', (event) => subscription.deliver(ChangeEventSchema.parse(JSON.parse(String(event.data))))),
    );
    source.addEventListener(
      'error',
      guarded('the error handler failed', (event) => {
        // The server's own `event: error` (the subscription ended) carries data; the source's has none.
        if (event.data !== undefined) {
          fail(errorOf(event.data, 'the server ended the stream'));
        } else if (source.readyState === CLOSED && !subscription.cancelled) {
          // Over the connection limit (503) is no answer about this stream: try again later, as the WebSocket client does.
          if (event.code === 503) {
            attempt += 1;
            retry = setTimeout(open, backoffDelay(attempt, backoff));
            return;
          }
          const status = event.code === undefined ? '' : ` with HTTP ${event.code}`;
          const code = (event.code && CODE_OF_STATUS[event.code]) || 'unavailable';
          fail(new RowcastClientError(code, `the server refused the event stream of ${table}${status}`, table));
        }
      }),
    );
  };
  open();
  return () => {
    subscription.cancelled = true;
    if (retry) clearTimeout(retry);
    source.close();
  };
}
