/**
 * WakeupListener: a dedicated LISTEN connection (pg-listen) that turns
 * NOTIFYs into wake-ups. A NOTIFY is only a latency hint: the change log is
 * the truth, so a missed one costs latency, never a change. The connection
 * reconnects with backoff and jitter and never gives up.
 */
import { EventEmitter } from 'node:events';
import pgListen, { type Subscriber } from 'pg-listen';

// pg-listen is CommonJS with `exports.default`.
const createSubscriber = pgListen.default;

export const WAKEUP_CHANNEL = 'rowcast_wakeup';
export const CONTROL_CHANNEL = 'rowcast_control';

export interface ListenerEvents {
  wakeup: [payload: string];
  control: [payload: unknown];
  /** The connection is (again) listening: anything may have been missed meanwhile. */
  connected: [];
  disconnected: [error: Error];
}

/** Exponential backoff from 100 ms to 5 s with full jitter. */
export function backoffMs(attempt: number): number {
  const ceiling = Math.min(5000, 100 * 2 ** Math.min(attempt, 10));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export class WakeupListener extends EventEmitter<ListenerEvents> {
  private subscriber: Subscriber | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private restarts = 0;
  connected = false;
  /** Times the connection came back after being lost. */
  reconnects = 0;
  private everConnected = false;

  constructor(private readonly url: string) {
    super();
  }

  /** Resolves once listening; rejects if the first connection fails. */
  async start(): Promise<void> {
    await this.open();
  }

  private async open(): Promise<void> {
    const subscriber = createSubscriber(
      { connectionString: this.url, application_name: 'rowcast-listen' },
      // pg-listen gives up after 3 s by default; a change feed must not.
      { retryTimeout: Number.POSITIVE_INFINITY, retryInterval: backoffMs, paranoidChecking: 10_000, parse: (s: string) => s },
    );
    this.subscriber = subscriber;
    subscriber.notifications.on(WAKEUP_CHANNEL, (payload: unknown) => this.emit('wakeup', typeof payload === 'string' ? payload : ''));
    subscriber.notifications.on(CONTROL_CHANNEL, (payload: string) => {
      try {
        this.emit('control', JSON.parse(payload));
      } catch {
        this.emit('control', null);
      }
    });
    subscriber.events.on('connected', () => this.setConnected(true));
    subscriber.events.on('reconnect', () => this.setConnected(false, new Error('LISTEN connection lost')));
    // pg-listen stops for good after an 'error'; start a fresh subscriber instead.
    subscriber.events.on('error', (error: Error) => {
      this.setConnected(false, error);
      this.scheduleRestart();
    });
    await subscriber.connect();
    await Promise.all([subscriber.listenTo(WAKEUP_CHANNEL), subscriber.listenTo(CONTROL_CHANNEL)]);
    this.restarts = 0;
    this.setConnected(true);
  }

  private setConnected(connected: boolean, error?: Error): void {
    if (this.connected === connected) return;
    this.connected = connected;
    if (connected && this.everConnected) this.reconnects += 1;
    if (connected) this.everConnected = true;
    if (connected) this.emit('connected');
    else this.emit('disconnected', error ?? new Error('LISTEN connection lost'));
  }

  private scheduleRestart(): void {
    if (this.closed || this.restartTimer) return;
    const old = this.subscriber;
    this.subscriber = null;
    void old?.close().catch(() => {});
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.closed) return;
      this.open().catch((error: Error) => {
        this.restarts += 1;
        this.setConnected(false, error);
        this.scheduleRestart();
      });
    }, backoffMs(this.restarts));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const subscriber = this.subscriber;
    this.subscriber = null;
    await subscriber?.close().catch(() => {});
  }
}
