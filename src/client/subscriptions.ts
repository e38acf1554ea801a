/**
 * The WebSocket client's subscriptions by id, across connections: what a new
 * connection asks for again, and where each answer of the server goes. An
 * unsubscribe during setup waits for the server's `subscribed` to undo it.
 */
import type { ClientMessage, Row, ServerMessage } from '../protocol.js';
import { ClientSubscription, type ChangeEvent, type SubscribeOptions } from './subscription.js';

type ChangeMessage = Extract<ServerMessage, { type: 'change' }>;

export class ClientSubscriptions {
  private readonly byId = new Map<string, ClientSubscription>();
  private count = 0;

  constructor(private readonly send: (message: ClientMessage) => void) {}

  /** A new subscription, asked for at once when the connection is `welcomed`, else on the next welcome. */
  add(table: string, options: SubscribeOptions<Row>, onChange: (change: ChangeEvent) => void, welcomed: boolean): ClientSubscription {
    this.count += 1;
    const subscription = new ClientSubscription(`s${this.count}`, table, options, onChange);
    this.byId.set(subscription.id, subscription);
    if (welcomed) this.send(subscription.request());
    return subscription;
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
      else if (subscription.status === 'idle') this.send(subscription.request());
    }
  }

  subscribed(id: string, cursor: string): void {
    const subscription = this.byId.get(id);
    if (!subscription) return;
    subscription.confirm(cursor);
    if (subscription.cancelled) {
      this.send({ type: 'unsubscribe', id });
      this.byId.delete(id);
    }
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
    return subscription.cancelled ? null : { table: subscription.table };
  }

  /** The connection ended: the next one must subscribe again. */
  disconnected(): void {
    for (const subscription of this.byId.values()) subscription.disconnect();
  }

  clear(): void {
    this.byId.clear();
  }
}
