/**
 * The WebSocket client's subscriptions by id, across connections: what a new
 * connection asks for again, and where each answer of the server goes. An
 * unsubscribe during setup waits for the server's `subscribed` to undo it.
 */
import type { ClientMessage, Row, ServerMessage } from '../protocol.js';
import { ClientSubscription, type ChangeEvent, type SubscribeOptions } from './subscription.js';

type ChangeMessage = Extract<ServerMessage, { type: 'change' }>;

/**
 * Subscribe frames awaiting the server's answer at most: more at once, after
 * a reconnect with many subscriptions, would run into the server's rate limit
 * and, refused more than a burst in a row, have the connection closed (1008).
 */
const MAX_REQUESTS_IN_FLIGHT = 20;
/** The pause before asking again for subscriptions refused for now (rate_limited, unavailable), plus up to as much again at random. */
const RETRY_LATER_MS = 1000;

export class ClientSubscriptions {
  private readonly byId = new Map<string, ClientSubscription>();
  private count = 0;
  /** Between a welcome and the connection's end. */
  private connected = false;
  /** Asks again for what the server was too busy to take (see postpone). */
  private askTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly send: (message: ClientMessage) => void) {}

  /** A new subscription, asked for as soon as the connection has room for it. */
  add(table: string, options: SubscribeOptions<Row>, onChange: (change: ChangeEvent) => void): ClientSubscription {
    this.count += 1;
    const subscription = new ClientSubscription(`s${this.count}`, table, options, onChange);
    this.byId.set(subscription.id, subscription);
    this.ask();
    return subscription;
  }

  /** Asks for subscriptions not yet asked on this connection, a window at a time (in the order they were made). */
  ask(): void {
    if (!this.connected) return;
    let inFlight = 0;
    for (const subscription of this.byId.values()) if (subscription.status === 'requested') inFlight++;
    for (const subscription of this.byId.values()) {
      if (inFlight >= MAX_REQUESTS_IN_FLIGHT) return;
      if (subscription.status !== 'idle' || subscription.cancelled) continue;
      this.send(subscription.request());
      inFlight++;
    }
  }

  cancel(subscription: ClientSubscription): void {
    if (subscription.cancelled) return;
    subscription.cancelled = true;
    if (subscription.status === 'active') this.send({ type: 'unsubscribe', id: subscription.id });
    // One still being set up is unsubscribed when the server confirms it.
    if (subscription.status !== 'requested') this.byId.delete(subscription.id);
  }

  /** A connection was welcomed: every subscription is asked for again, from its cursor. */
  welcomed(): void {
    for (const subscription of [...this.byId.values()]) {
      if (subscription.cancelled) this.byId.delete(subscription.id);
    }
    this.connected = true;
    this.ask();
  }

  subscribed(id: string, cursor: string): void {
    const subscription = this.byId.get(id);
    if (!subscription) return;
    subscription.confirm(cursor);
    if (subscription.cancelled) {
      this.send({ type: 'unsubscribe', id });
      this.byId.delete(id);
    }
    this.ask();
  }

  change(message: ChangeMessage): void {
    const { type: _type, sub, ...change } = message;
    this.byId.get(sub)?.deliver(change);
  }

  cursor(sub: string, cursor: string): void {
    this.byId.get(sub)?.advance(cursor);
  }

  /**
   * An error about subscription `ref`: one the server ended while active (its
   * rule changed, say) is asked for again from its cursor, and null returned;
   * one refused when asked ends. Returns what the application should hear
   * about: the subscription's table, or no table for an error about none.
   */
  failed(ref: string | undefined): { table?: string } | null {
    const subscription = ref === undefined ? undefined : this.byId.get(ref);
    if (!subscription) return {};
    if (subscription.status === 'active' && !subscription.cancelled) {
      this.send(subscription.request());
      return null;
    }
    this.byId.delete(subscription.id);
    this.ask();
    return subscription.cancelled ? null : { table: subscription.table };
  }

  /** The server could not take `ref`'s subscribe for now (rate_limited, or its database unavailable): true when it will be asked again, after a pause. */
  postpone(ref: string | undefined): boolean {
    const subscription = ref === undefined ? undefined : this.byId.get(ref);
    if (subscription?.status !== 'requested') return false;
    subscription.disconnect();
    this.askTimer ??= setTimeout(() => {
      this.askTimer = null;
      this.ask();
    }, RETRY_LATER_MS * (1 + Math.random()));
    return true;
  }

  /** For a close the server gave because of a frame too large (1009): the largest subscribe frame it had not answered, which can never be sent; it ends. */
  dropLargestRequest(): ClientSubscription | undefined {
    let largest: { subscription: ClientSubscription; size: number } | undefined;
    for (const subscription of this.byId.values()) {
      if (subscription.status !== 'requested' || subscription.cancelled) continue;
      const size = new TextEncoder().encode(JSON.stringify(subscription.request())).length;
      if (!largest || size > largest.size) largest = { subscription, size };
    }
    if (largest) this.byId.delete(largest.subscription.id);
    return largest?.subscription;
  }

  /** The connection ended: the next one must subscribe again. */
  disconnected(): void {
    this.connected = false;
    if (this.askTimer) clearTimeout(this.askTimer);
    this.askTimer = null;
    for (const subscription of this.byId.values()) subscription.disconnect();
  }

  clear(): void {
    this.disconnected();
    this.byId.clear();
  }
}
