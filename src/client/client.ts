/**
 * The Rowcast WebSocket client: one connection, any number of subscriptions,
 * driven by the state machine of connection-state.ts. It reconnects with
 * backoff, resubscribes each subscription from its last cursor, and refreshes
 * the token before it expires. No exception escapes a socket callback: a
 * failure becomes an `error` event.
 */
import { CloseCode, type ClientMessage, type ServerMessage } from '../protocol.js';
import {
  DEFAULT_BACKOFF,
  RowcastClientError,
  transition,
  type BackoffOptions,
  type ConnectionEvent,
  type ConnectionState,
} from './connection-state.js';
import {
  abandonSocket,
  closeSocket,
  defaultWebSocket,
  endpointsOf,
  parseServerFrame,
  refusesToken,
  subprotocols,
  type Endpoints,
  type WebSocketConstructor,
  type WebSocketLike,
} from './socket.js';
import { Heartbeat } from './heartbeat.js';
import { Listeners } from './listeners.js';
import type { ChangeEvent, SubscribeOptions } from './subscription.js';
import { ClientSubscriptions } from './subscriptions.js';
import type { RowcastTables } from './tables.js';
import { canRefresh, resolveToken, tokenExpiry, TokenRefresher, type TokenSource } from './token.js';

export interface ClientOptions {
  /** The server: `http://127.0.0.1:8080`, its `/ws` URL, or in a browser a path such as `/`. */
  url: string;
  /** A JWT, or a function returning one, asked before each connection and before `exp`. */
  token?: TokenSource;
  /** A WebSocket implementation; defaults to the global one (browsers, Node 22+). In Node 20 pass `ws`. */
  WebSocket?: WebSocketConstructor;
  backoff?: Partial<BackoffOptions>;
}

/** Each event's listener arguments. */
export type ClientEvents = {
  state: [state: ConnectionState];
  error: [error: RowcastClientError];
};

/** A connection open this long has lasted: a drop after it starts the backoff over. */
const STABLE_CONNECTION_MS = 5000;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class RowcastClient<Tables = RowcastTables> {
  private current: ConnectionState = { kind: 'connecting' };
  private readonly endpoints: Endpoints;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly backoff: BackoffOptions;
  private readonly subscriptions = new ClientSubscriptions((message) => this.send(message));
  private readonly listeners = new Listeners<ClientEvents>();
  private socket: WebSocketLike | null = null;
  private welcomed = false;
  /** A refused token was already replaced by a fresh one since the last successful connection. */
  private refreshedAfterRefusal = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** The attempts the open connection took, and since when it is open: a drop soon after goes on with the backoff. */
  private openedAfter = 0;
  private openedAt = 0;
  private readonly refresher: TokenRefresher;
  private heartbeat: Heartbeat | null = null;

  constructor(private readonly options: ClientOptions) {
    const WebSocketImpl = options.WebSocket ?? defaultWebSocket();
    if (!WebSocketImpl) throw new Error('no WebSocket implementation: pass { WebSocket } (in Node 20, the one of the `ws` package)');
    this.WebSocketImpl = WebSocketImpl;
    this.endpoints = endpointsOf(options.url);
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.refresher = new TokenRefresher(
      options.token,
      (token) => this.send({ type: 'auth', token }),
      // The server closes with 4401 at expiry; reconnecting asks the function again.
      (error) => this.listeners.emit('error', new RowcastClientError('token_unavailable', `refreshing the token failed: ${messageOf(error)}`)),
    );
    void this.connect();
  }

  get state(): ConnectionState {
    return this.current;
  }

  on<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): () => void {
    return this.listeners.add(event, listener);
  }

  /** Calls `onChange` once per change of `table`, in commit order, across reconnects. Returns the unsubscribe function. */
  subscribe<K extends keyof Tables & string>(
    table: K,
    options: SubscribeOptions<Tables[K]>,
    onChange: (change: ChangeEvent<Tables[K]>) => void,
  ): () => void {
    if (this.current.kind === 'closed') throw new Error('the client is closed');
    // The server's rows are trusted to have the table's shape: that is what `rowcast types` describes.
    const subscription = this.subscriptions.add(table, options, onChange as (change: ChangeEvent) => void);
    return () => this.subscriptions.cancel(subscription);
  }

  close(): void {
    this.move({ type: 'close' });
  }

  private async connect(): Promise<void> {
    let token: string | null;
    try {
      token = await resolveToken(this.options.token);
    } catch (error) {
      this.listeners.emit('error', new RowcastClientError('token_unavailable', `the token function failed: ${messageOf(error)}`));
      this.move({ type: 'lost', reason: 'no token' });
      return;
    }
    if (this.current.kind === 'closed') return;
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(this.endpoints.ws, subprotocols(token));
    } catch (error) {
      this.move({ type: 'fatal', error: new RowcastClientError('invalid_request', `cannot open ${this.endpoints.ws}: ${messageOf(error)}`) });
      return;
    }
    this.socket = socket;
    this.refresher.current = token;
    this.welcomed = false;
    socket.addEventListener('message', (event) => this.guard(() => this.socket === socket && this.receive(event.data)));
    socket.addEventListener('close', (event) => this.guard(() => this.socket === socket && this.dropped(event.code, event.reason)));
    // A 'close' always follows; without a listener `ws` would throw the error.
    socket.addEventListener('error', () => {});
  }

  private receive(data: unknown): void {
    let message: ServerMessage;
    try {
      message = parseServerFrame(data);
    } catch (error) {
      this.listeners.emit('error', new RowcastClientError('invalid_message', `a frame from the server is not of the protocol: ${messageOf(error)}`));
      return;
    }
    this.heartbeat?.heard();
    switch (message.type) {
      case 'welcome':
        this.welcome(message.connection_id, message.heartbeat_ms);
        return;
      case 'subscribed':
        this.subscriptions.subscribed(message.id, message.cursor);
        return;
      case 'change':
        this.subscriptions.change(message);
        return;
      case 'cursor':
        this.subscriptions.cursor(message.sub, message.cursor);
        return;
      case 'authenticated':
        this.refresher.arm(message.exp);
        return;
      case 'error': {
        if ((message.code === 'rate_limited' || message.code === 'unavailable') && this.subscriptions.postpone(message.ref)) return;
        const about = this.subscriptions.failed(message.ref);
        if (about) this.listeners.emit('error', new RowcastClientError(message.code, message.message, about.table));
        return;
      }
      case 'pong':
      case 'unsubscribed':
        return;
    }
  }

  private welcome(connectionId: string, heartbeatMs: number): void {
    this.welcomed = true;
    this.refreshedAfterRefusal = false;
    this.openedAfter = this.current.kind === 'reconnecting' ? this.current.attempt : 0;
    this.openedAt = Date.now();
    this.subscriptions.welcomed();
    // Armed before the state is told: a listener that closes the client on 'open' stops them too.
    this.startHeartbeat(heartbeatMs);
    const token = this.refresher.current;
    this.refresher.arm(token === null ? null : tokenExpiry(token));
    this.move({ type: 'welcome', connectionId });
  }

  private dropped(code: number, reason: string): void {
    const welcomed = this.welcomed;
    this.socket = null;
    this.welcomed = false;
    this.stopConnectionTimers();
    const tooBig = code === CloseCode.messageTooBig ? this.subscriptions.dropLargestRequest() : undefined;
    if (tooBig) this.listeners.emit('error', new RowcastClientError('message_too_big', `the subscribe message of ${tooBig.table} is larger than the server takes (close 1009); it was dropped`, tooBig.table));
    this.subscriptions.disconnected();
    if (this.current.kind === 'closed') return;
    if (code === CloseCode.unauthorized) {
      this.tokenRefused(`the server closed the connection: ${reason || 'token expired or invalid'}`);
      return;
    }
    const lostReason = `connection closed (${code}${reason ? ` ${reason}` : ''})`;
    if (welcomed) {
      const lasted = Date.now() - this.openedAt >= STABLE_CONNECTION_MS;
      this.move({ type: 'lost', reason: lostReason, after: lasted ? 0 : this.openedAfter });
      return;
    }
    // A refused upgrade looks like any failed connection to a WebSocket: ask over HTTP whether it was the token.
    void refusesToken(this.endpoints.http, this.refresher.current).then(
      (rejected) => (rejected ? this.tokenRefused('the server refused the token (HTTP 401)') : this.move({ type: 'lost', reason: lostReason })),
      () => this.move({ type: 'lost', reason: lostReason }),
    );
  }

  /** A token a fresh one may fix is retried once at once; otherwise the client stops. */
  private tokenRefused(reason: string): void {
    if (canRefresh(this.options.token) && !this.refreshedAfterRefusal) {
      this.refreshedAfterRefusal = true;
      this.move({ type: 'lost', reason, immediate: true });
      return;
    }
    this.move({ type: 'fatal', error: new RowcastClientError('unauthorized', reason) });
  }

  /** Applies an event to the state machine and does what the new state requires. */
  private move(event: ConnectionEvent): void {
    const previous = this.current;
    const next = transition(previous, event, { backoff: this.backoff });
    if (next === previous) return;
    this.current = next;
    if (next.kind === 'reconnecting') {
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => void this.connect(), next.retryInMs);
    } else if (next.kind === 'closed') {
      this.shutDown();
    }
    this.listeners.emit('state', next);
    if (next.kind === 'closed' && next.error) this.listeners.emit('error', next.error);
  }

  private shutDown(): void {
    this.stopConnectionTimers();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.socket = null;
    this.subscriptions.clear();
    if (socket) closeSocket(socket, 1000, 'client closed');
  }

  /** Pings on the server's heartbeat; a server silent for longer is given up on. */
  private startHeartbeat(heartbeatMs: number): void {
    const socket = this.socket;
    this.heartbeat = new Heartbeat(
      heartbeatMs,
      () => this.guard(() => this.send({ type: 'ping', timestamp: Date.now() })),
      () =>
        this.guard(() => {
          if (this.socket !== socket || !socket) return;
          this.dropped(1006, 'the server stopped answering');
          abandonSocket(socket);
        }),
    );
  }

  private stopConnectionTimers(): void {
    this.heartbeat?.stop();
    this.heartbeat = null;
    this.refresher.disarm();
  }

  private send(message: ClientMessage): void {
    this.socket?.send(JSON.stringify(message));
  }

  /** Runs socket and timer callbacks: whatever they throw (a handler, say) becomes an `error` event. */
  private guard(fn: () => unknown): void {
    try {
      fn();
    } catch (error) {
      this.listeners.emit('error', new RowcastClientError('handler_failed', messageOf(error)));
    }
  }
}
