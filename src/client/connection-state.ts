/**
 * The client's connection state machine. Each state carries only what is true
 * in it, and `transition` is a pure function from (state, event) to the next
 * state, so every path — first connect, drops, auth failures, close — is
 * explicit and testable without a socket.
 *
 *   connecting ──welcome──► open ──lost──► reconnecting ──welcome──► open
 *       │                                     │  ▲
 *       └──────────lost──────────────────────►│  └─lost (attempt + 1, longer backoff;
 *                                             │        also from an open that did not last)
 *   any ──fatal──► closed(error)      any ──close──► closed(null)
 */

/** Why the client stopped for good; `code` is a protocol error code or a client-side one. */
export class RowcastClientError extends Error {
  override readonly name = 'RowcastClientError';
  constructor(
    readonly code: string,
    message: string,
    /** The table of the subscription the error is about, if any. */
    readonly table?: string,
  ) {
    super(message);
  }
}

export type ConnectionState =
  /** The first attempt; nothing has been delivered yet. */
  | { readonly kind: 'connecting' }
  /** The server said welcome; subscriptions are (re)established. */
  | { readonly kind: 'open'; readonly connectionId: string }
  /** Lost or never reached: the next attempt starts after `retryInMs`. */
  | { readonly kind: 'reconnecting'; readonly attempt: number; readonly retryInMs: number; readonly reason: string }
  /** Terminal: `close()` was called (error null) or a failure retrying cannot fix. */
  | { readonly kind: 'closed'; readonly error: RowcastClientError | null };

export type ConnectionStateKind = ConnectionState['kind'];

export type ConnectionEvent =
  | { readonly type: 'welcome'; readonly connectionId: string }
  /**
   * The socket closed or could not open; `immediate` skips the backoff (a
   * refreshed token to try). `after`: the attempts a connection that did not
   * last took to open, which the backoff goes on from (a server that closes
   * each connection soon after its welcome is not hammered).
   */
  | { readonly type: 'lost'; readonly reason: string; readonly immediate?: boolean; readonly after?: number }
  | { readonly type: 'fatal'; readonly error: RowcastClientError }
  | { readonly type: 'close' };

export interface BackoffOptions {
  /** Ceiling of the first retry's delay. */
  initialMs: number;
  /** Ceiling of any retry's delay. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

/**
 * Exponential backoff with full jitter: a uniform delay in [0, min(max, initial·2^(attempt-1))),
 * so that clients dropped together do not come back together.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}

export interface TransitionContext {
  backoff: BackoffOptions;
  random?: () => number;
}

export function transition(state: ConnectionState, event: ConnectionEvent, context: TransitionContext): ConnectionState {
  if (state.kind === 'closed') return state;
  switch (event.type) {
    case 'welcome':
      return { kind: 'open', connectionId: event.connectionId };
    case 'lost': {
      const attempt = (state.kind === 'reconnecting' ? state.attempt : (event.after ?? 0)) + 1;
      const retryInMs = event.immediate ? 0 : backoffDelay(attempt, context.backoff, context.random);
      return { kind: 'reconnecting', attempt, retryInMs, reason: event.reason };
    }
    case 'fatal':
      return { kind: 'closed', error: event.error };
    case 'close':
      return { kind: 'closed', error: null };
  }
}
