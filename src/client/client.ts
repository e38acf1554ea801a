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
import { canRefresh, resolveToken, tokenExpiry, TokenRefreshTimer, type TokenSource } from './token.js';

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
  /** The token the current connection was opened or last re-authenticated with. */
  private token: string | null = null;
  private welcomed = false;
  /** A refused token was already replaced by a fresh one since the last successful connection. */
  private refreshedAfterRefusal = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly refreshTimer = new TokenRefreshTimer(() => void this.refreshToken());
  private heartbeat: Heartbeat | null = null;

  constructor(private readonly options: ClientOptions) {
    const WebSocketImpl = options.WebSocket ?? defaultWebSocket();
    if (!WebSocketImpl) throw new Error('no WebSocket implementation: pass { WebSocket } (in Node 20, the one of the `ws` package)');
    this.WebSocketImpl = WebSocketImpl;
    this.endpoints = endpointsOf(options.url);
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
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
    const subscription = this.subscriptions.add(table, options, onChange as (change: ChangeEvent) => void, this.welcomed);
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
    this.token = token;
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
        this.scheduleRefresh(message.exp);
        return;
      case 'error': {
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
    this.subscriptions.welcomed();
    this.move({ type: 'welcome', connectionId });
    this.startHeartbeat(heartbeatMs);
    this.scheduleRefresh(this.token === null ? null : tokenExpiry(this.token));
  }

  private dropped(code: number, reason: string): void {
    const welcomed = this.welcomed;
    this.socket = null;
    this.welcomed = false;
    this.stopConnectionTimers();
    this.subscriptions.disconnected();
    if (this.current.kind === 'closed') return;
    if (code === CloseCode.unauthorized) {
      this.tokenRefused(`the server closed the connection: ${reason || 'token expired or invalid'}`);
      return;
    }
    const lostReason = `connection closed (${code}${reason ? ` ${reason}` : ''})`;
    if (welcomed) {
      this.move({ type: 'lost', reason: lostReason });
      return;
    }
    // A refused upgrade looks like any failed connection to a WebSocket: ask over HTTP whether it was the token.
    void refusesToken(this.endpoints.http, this.token).then(
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
    socket?.close(1000, 'client closed');
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
          socket.close();
        }),
    );
  }

  private scheduleRefresh(exp: number | null): void {
    this.refreshTimer.arm(canRefresh(this.options.token) ? exp : null);
  }

  private async refreshToken(): Promise<void> {
    const socket = this.socket;
    try {
      const token = await resolveToken(this.options.token);
      if (token === null || this.socket !== socket) return;
      this.token = token;
      this.send({ type: 'auth', token });
    } catch (error) {
      // The server closes with 4401 at expiry; reconnecting asks the function again.
      this.listeners.emit('error', new RowcastClientError('token_unavailable', `refreshing the token failed: ${messageOf(error)}`));
    }
  }

  private stopConnectionTimers(): void {
    this.heartbeat?.stop();
    this.heartbeat = null;
    this.refreshTimer.disarm();
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
