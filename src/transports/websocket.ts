/**
 * WebSocket transport, `GET /ws` (CONTRACT §4). One WsConnection per socket:
 * it parses and answers client messages, owns that client's subscriptions,
 * and writes their changes. Nothing thrown here escapes a socket callback.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocketLike } from '@hono/node-server';
import type { WSContext, WSEvents } from 'hono/ws';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import type { Change } from '../capture/change.js';
import { encodeCursor, type Cursor } from '../capture/cursor.js';
import { asRowcastError, RowcastError } from '../errors.js';
import type { Principal } from '../hub/authorization.js';
import type { Hub } from '../hub/hub.js';
import type { Subscription, SubscriptionSink } from '../hub/subscription.js';
import {
  CloseCode,
  frameRef,
  MAX_SUBSCRIPTIONS_PER_CONNECTION,
  parseClientMessage,
  PROTOCOL_VERSION,
  type ClientMessage,
  type ErrorCode,
  type ServerMessage,
  type SubscribeMessage,
} from '../protocol.js';
import type { Authenticator } from './authenticate.js';
import { AuthOrder } from './auth-order.js';
import type { ConnectionRegistry, OpenConnection } from './connections.js';
import type { OriginPolicy } from './origin.js';
import { TokenBucket } from './token-bucket.js';
import { TokenExpiryTimer } from './token-expiry.js';
import { drained, TickCork } from './ws-writes.js';

export interface WebSocketDeps {
  hub: Hub;
  authenticator: Authenticator;
  connections: ConnectionRegistry;
  log: Logger;
  heartbeatMs: number;
  maxBufferBytes: number;
  rateLimit: number;
  origins: OriginPolicy;
}

/** Error codes a WebSocket client sees (CONTRACT §4): HTTP-only codes fold into invalid_message. */
function wsCode(code: ErrorCode): ErrorCode {
  return code === 'invalid_request' ? 'invalid_message' : code;
}

export class WsConnection implements SubscriptionSink, OpenConnection {
  readonly transport = 'ws' as const;
  readonly id = randomUUID();
  private ws: WSContext<WebSocketLike> | null = null;
  /**
   * Every subscription by id, including those still being set up (their `since`
   * read in flight): unsubscribe, a token refresh and close treat both alike.
   */
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly bucket: TokenBucket;
  /** Closes the socket with 4401 when the token expires, unless refreshed before. */
  private readonly expiry = new TokenExpiryTimer(() => this.close(CloseCode.unauthorized, 'token expired'));
  /** Messages after an `auth` wait for it; `auth`s apply in the order sent, the last one wins. */
  private readonly order = new AuthOrder((error) => this.deps.log.error({ err: error, connection: this.id }, 'websocket message failed'));
  private closed = false;
  /** Whether the peer answered the last ping. */
  alive = true;
  private readonly cork = new TickCork();

  constructor(
    private principal: Principal,
    private readonly deps: WebSocketDeps,
    /** The transport's set of open connections, for heartbeats. */
    private readonly live: Set<WsConnection>,
  ) {
    this.bucket = new TokenBucket(deps.rateLimit);
  }

  /** Our WebSocketServer is `ws`, so the raw socket is a ws WebSocket. */
  private get raw(): WebSocket | undefined {
    return this.ws?.raw as WebSocket | undefined;
  }

  events(): WSEvents<WebSocketLike> {
    return {
      onOpen: (_event, ws) => this.guard(() => this.open(ws)),
      onMessage: (event, ws) => this.guard(() => this.receive(event.data, ws)),
      onClose: () => this.guard(() => this.cleanup()),
      onError: () => this.guard(() => this.cleanup('socket error')),
    };
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.deps.log.error({ err: error, connection: this.id }, 'websocket handler failed');
    }
  }

  private open(ws: WSContext<WebSocketLike>): void {
    this.ws = ws;
    this.deps.connections.add(this);
    this.live.add(this);
    this.raw?.on('pong', () => {
      this.alive = true;
    });
    this.send({ type: 'welcome', connection_id: this.id, protocol: PROTOCOL_VERSION, heartbeat_ms: this.deps.heartbeatMs });
    this.expiry.arm(this.principal.endsAtMs);
    this.deps.log.info({ connection: this.id, transport: 'ws', sub: this.principal.sub, role: this.principal.role }, 'client connected');
  }

  private receive(data: unknown, ws: WSContext<WebSocketLike>): void {
    // A frame after close would register a subscription that nothing ends.
    if (this.closed) return;
    this.ws = ws;
    if (!this.bucket.take()) {
      if (this.bucket.flooding()) {
        this.close(CloseCode.policyViolation, 'rate limit exceeded repeatedly');
        return;
      }
      // Named by its id, if it has one, so a client can tell which request to make again.
      this.sendError('rate_limited', `more than ${this.deps.rateLimit} messages per second`, frameRef(data));
      return;
    }
    if (typeof data !== 'string') {
      this.sendError('invalid_message', 'frames must be JSON text');
      return;
    }
    const parsed = parseClientMessage(data);
    if (!parsed.ok) {
      this.sendError(parsed.code, parsed.message, parsed.ref);
      return;
    }
    this.dispatch(parsed.message);
  }

  private dispatch(message: ClientMessage): void {
    this.order.run(message.type === 'auth', () => this.handle(message));
  }

  /** Handles one message; resolves once it is applied (a subscribe once registered, its backlog goes on). */
  private async handle(message: ClientMessage): Promise<void> {
    // Closed while it waited for an `auth` before it.
    if (this.closed) return;
    switch (message.type) {
      case 'subscribe':
        void this.subscribe(message);
        return;
      case 'unsubscribe': {
        const subscription = this.subscriptions.get(message.id);
        if (!subscription) {
          this.sendError('invalid_message', `no subscription ${message.id}`, message.id);
          return;
        }
        this.subscriptions.delete(message.id);
        this.deps.hub.unsubscribe(subscription);
        this.send({ type: 'unsubscribed', id: message.id });
        return;
      }
      case 'ping':
        this.send(message.timestamp === undefined ? { type: 'pong' } : { type: 'pong', timestamp: message.timestamp });
        return;
      case 'auth':
        await this.reauthenticate(message.token);
        return;
    }
  }

  private async subscribe(message: SubscribeMessage): Promise<void> {
    const { id } = message;
    let subscription: Subscription | null = null;
    try {
      if (this.subscriptions.has(id)) {
        throw new RowcastError('invalid_message', `subscription id ${id} is already in use`);
      }
      if (this.subscriptions.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
        throw new RowcastError('too_many_subscriptions', `at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection`);
      }
      const registered = this.deps.hub.register({
        id,
        table: message.table,
        ...(message.ops ? { ops: message.ops } : {}),
        ...(message.filter ? { filter: message.filter } : {}),
        ...(message.since ? { since: message.since } : {}),
        principal: this.principal,
        sink: this,
      });
      subscription = registered.subscription;
      // Known from now on, so an `auth` or `unsubscribe` arriving during the backlog read reaches it.
      this.subscriptions.set(id, subscription);
      const start = await registered.ready;
      // Unsubscribed, closed, or ended (a refreshed token may not read it) meanwhile: nothing more for it.
      if (subscription.isClosed) return;
      const { schema, name } = subscription.table.info;
      this.send({ type: 'subscribed', id, table: schema === 'public' ? name : `${schema}.${name}`, cursor: encodeCursor(subscription.cursor) });
      await start();
    } catch (error) {
      // Unsubscribed, closed or ended meanwhile: already answered, or no one left to tell.
      if (subscription?.isClosed) return;
      if (subscription) {
        this.subscriptions.delete(id);
        this.deps.hub.unsubscribe(subscription);
      }
      const e = asRowcastError(error);
      if (e.code === 'internal_error') this.deps.log.error({ err: e.cause, connection: this.id }, 'subscribe failed');
      this.sendError(e.code, e.message, id);
    }
  }

  private async reauthenticate(token: string): Promise<void> {
    try {
      const principal = await this.deps.authenticator.authenticate(token);
      if (this.closed) return;
      this.principal = principal;
      this.expiry.arm(principal.endsAtMs);
      // A new role may read less: subscriptions it no longer allows, set up or still being set up, end with `forbidden`.
      for (const subscription of [...this.subscriptions.values()]) this.deps.hub.reauthorize(subscription, this.principal);
      this.send({ type: 'authenticated', exp: this.principal.exp });
    } catch {
      this.close(CloseCode.unauthorized, 'token invalid or expired');
    }
  }

  deliver(change: Change, subscription: Subscription): void {
    const raw = this.raw;
    if (this.closed || !raw) return;
    this.cork.cork(raw);
    raw.send(change.wsFrame(subscription.id), { binary: false });
    this.deps.connections.delivered.ws += 1;
    // A reader that does not keep up is dropped; it resumes from its cursor.
    if (raw.bufferedAmount > this.deps.maxBufferBytes) {
      this.deps.connections.slowConsumerDrops.ws += 1;
      this.deps.log.info({ connection: this.id, buffered: raw.bufferedAmount }, 'dropping slow consumer');
      this.close(CloseCode.slowConsumer, 'slow consumer');
    }
  }

  whenWritable(): Promise<void> | null {
    const raw = this.raw;
    if (this.closed || !raw) return null;
    return drained(raw, this.deps.maxBufferBytes / 2, () => this.closed);
  }

  tell(cursor: Cursor, subscription: Subscription): void {
    this.send({ type: 'cursor', sub: subscription.id, cursor: encodeCursor(cursor) });
  }

  ended(subscription: Subscription, error: RowcastError): void {
    if (this.subscriptions.get(subscription.id) === subscription) this.subscriptions.delete(subscription.id);
    this.deps.hub.remove(subscription);
    this.sendError(error.code, error.message, subscription.id);
  }

  /**
   * One heartbeat tick: drop a peer that missed the last ping, else ping
   * again, and tell each quiet subscription where it stands now.
   */
  heartbeat(): void {
    // Called from the transport's timer for every connection: one failing must not stop the others.
    this.guard(() => {
      const raw = this.raw;
      if (this.closed || !raw) return;
      if (!this.alive) {
        raw.terminate();
        return;
      }
      this.alive = false;
      raw.ping();
      for (const [sub, subscription] of this.subscriptions) {
        const news = this.deps.hub.cursorNews(subscription);
        if (news) this.send({ type: 'cursor', sub, cursor: encodeCursor(news) });
      }
    });
  }

  shutdown(): void {
    this.close(CloseCode.shuttingDown, 'server shutting down');
  }

  private close(code: number, reason: string): void {
    if (this.closed) return;
    this.ws?.close(code, reason);
    this.cleanup(reason);
  }

  private cleanup(reason = 'client closed'): void {
    if (this.closed) return;
    this.deps.log.info({ connection: this.id, transport: 'ws', reason }, 'client disconnected');
    this.closed = true;
    this.expiry.disarm();
    for (const subscription of this.subscriptions.values()) this.deps.hub.unsubscribe(subscription);
    this.subscriptions.clear();
    this.deps.connections.delete(this);
    this.live.delete(this);
  }

  private send(message: ServerMessage): void {
    if (this.closed || !this.ws) return;
    this.ws.send(JSON.stringify(message));
  }

  private sendError(code: ErrorCode, message: string, ref?: string): void {
    this.send({ type: 'error', code: wsCode(code), message, ...(ref === undefined ? {} : { ref }) });
  }
}
