/**
 * Clients that keep a feed going the way CONTRACT §3 tells them to: they
 * remember the last cursor they saw and resume from it. The WebSocket and
 * SSE clients drop their connection every few hundred ms on purpose (or lose
 * it to a dying server) and reconnect with `since` / Last-Event-ID; the
 * /changes client polls with `since` and a varying `limit`. Each records
 * every change event it received, across all its connections, in order.
 * Loops are bounded in count and in time.
 */
import { onTestFinished } from 'vitest';
import { SseCursorEventSchema, type ChangeEvent } from '../../src/protocol.js';
import { bareEvent } from './delivery-check.js';
import { openSse, sseEvents } from './sse-stream.js';
import { TestWsClient } from './ws-client.js';
import { waitFor } from './wait.js';
import { prng } from './workload.js';
import { changeKey } from './writers.js';

export interface ResumerOptions {
  /** Base URLs used in turn, one per connection: several server instances. */
  urls: readonly string[];
  table: string;
  /** The cursor to start from. */
  since: string;
  /** How long a connection is kept before the client drops it, ms; absent: until stopped or lost. */
  holdMs?: readonly [number, number];
  maxCycles?: number;
  maxRunMs?: number;
  seed?: number;
}

/** Pause between attempts while a server is unreachable: a retry interval, not a synchronization. */
const RETRY_MS = 50;
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

abstract class Resumer {
  readonly events: ChangeEvent[] = [];
  /** Connections that could not be made or broke (server or database away). */
  readonly failures: string[] = [];
  /** What the server refused or reported as an error: tests usually expect none. */
  readonly refusals: string[] = [];
  /** Connections the server ended (close code, or "ended" for a stream), not the client. */
  readonly drops: string[] = [];
  cycles = 0;
  cursor: string;
  private stopped = false;
  private wake: () => void = () => {};
  private readonly stopSignal = new Promise<void>((resolve) => (this.wake = resolve));
  private loop: Promise<void> | null = null;
  private readonly random: () => number;

  constructor(protected readonly options: ResumerOptions) {
    this.cursor = options.since;
    this.random = prng(options.seed ?? 7);
  }

  /** Starts the client; it stops by itself when the test ends, passed or failed. */
  start(): this {
    this.loop = this.run();
    onTestFinished(() => this.stop());
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
  }

  /** Waits until the change with this key (see changeKey) arrived; on timeout, says what the client went through. */
  async waitForKey(key: string, timeoutMs = 20_000): Promise<void> {
    try {
      await waitFor(() => this.events.some((e) => changeKey(e) === key), { timeoutMs, what: key });
    } catch {
      const last = (list: string[]) => JSON.stringify(list.slice(-3));
      throw new Error(
        `${this.constructor.name} did not receive ${key} within ${timeoutMs} ms: ${this.events.length} changes over ${this.cycles} connections; ` +
          `refusals ${last(this.refusals)}, failures ${last(this.failures)}, drops ${last(this.drops)}`,
      );
    }
  }

  protected record(event: ChangeEvent): void {
    this.events.push(event);
    this.cursor = event.id;
  }

  /** Cursors from the server (WebSocket `cursor`, SSE `event: cursor`) that moved past the last change seen. */
  cursorMoves = 0;

  /** A cursor the server handed over: the next connection resumes there. */
  protected follow(cursor: string): void {
    if (cursor !== this.cursor) this.cursorMoves += 1;
    this.cursor = cursor;
  }

  /** Resolves when this connection's time is up or the client is stopped. */
  protected hold(): Promise<void> {
    const range = this.options.holdMs;
    if (!range) return this.stopSignal;
    const ms = range[0] + this.random() * (range[1] - range[0]);
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([new Promise<void>((r) => (timer = setTimeout(r, ms))), this.stopSignal]).finally(() => clearTimeout(timer));
  }

  private async run(): Promise<void> {
    const deadline = Date.now() + (this.options.maxRunMs ?? 60_000);
    const { urls } = this.options;
    while (!this.stopped && this.cycles < (this.options.maxCycles ?? 500) && Date.now() < deadline) {
      const url = urls[this.cycles % urls.length] as string;
      this.cycles += 1;
      try {
        await this.connection(url);
      } catch (error) {
        this.failures.push(String(error));
        if (!this.stopped) await pause(RETRY_MS);
      }
    }
  }

  /** One connection: subscribe from `cursor`, record, return when it is dropped or lost. */
  protected abstract connection(url: string): Promise<void>;
}

export class WsResumer extends Resumer {
  protected async connection(url: string): Promise<void> {
    const client = await TestWsClient.connect(url);
    // A socket error after open (server killed) must not become an unhandled 'error' event.
    client.socket.on('error', () => {});
    // Recorded as they arrive, so the cursor is always the last change seen.
    client.socket.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { type: string; sub?: string; code?: string; message?: string };
      if (m.type === 'change' && m.sub === 'r') this.record(bareEvent(m) as ChangeEvent);
      else if (m.type === 'cursor' && m.sub === 'r') this.follow(String((m as { cursor?: unknown }).cursor));
      else if (m.type === 'error') this.refusals.push(`${m.code}: ${m.message}`);
    });
    try {
      await client.subscribe({ id: 'r', table: this.options.table, since: this.cursor });
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

export class SseResumer extends Resumer {
  protected async connection(url: string): Promise<void> {
    const abort = new AbortController();
    void this.hold().then(() => abort.abort());
    const res = await openSse(`${url}/sse/${this.options.table}`, { lastEventId: this.cursor, signal: abort.signal });
    if (!res.stream) {
      abort.abort();
      this.refusals.push(`HTTP ${res.status} ${JSON.stringify(res.body)}`);
      await pause(RETRY_MS);
      return;
    }
    try {
      for await (const event of sseEvents(res.stream)) {
        if (event.event === 'change') {
          const change = JSON.parse(event.data) as ChangeEvent;
          if (event.id !== change.id) this.refusals.push(`SSE id ${event.id} is not the change id ${change.id}`);
          this.record(change);
        } else if (event.event === 'cursor') {
          // What an EventSource does: every event's id becomes its Last-Event-ID.
          const { cursor } = SseCursorEventSchema.parse(JSON.parse(event.data));
          if (event.id !== cursor) this.refusals.push(`SSE id ${event.id} is not the cursor ${cursor}`);
          this.follow(cursor);
        } else {
          this.refusals.push(`SSE ${event.event}: ${event.data}`);
        }
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
export class ChangesPoller extends Resumer {
  constructor(
    options: ResumerOptions,
    private readonly limits: readonly number[] = [1, 3, 7, 50, 500],
  ) {
    super({ maxCycles: 20_000, ...options });
  }

  protected async connection(url: string): Promise<void> {
    const limit = this.limits[this.cycles % this.limits.length] as number;
    const res = await fetch(`${url}/changes/${this.options.table}?since=${encodeURIComponent(this.cursor)}&limit=${limit}`);
    const text = await res.text();
    if (res.status !== 200) {
      this.refusals.push(`HTTP ${res.status} ${text.slice(0, 300)}`);
      await pause(RETRY_MS);
      return;
    }
    const page = JSON.parse(text) as { changes: ChangeEvent[]; cursor: string };
    if (page.changes.length > limit) this.refusals.push(`/changes returned ${page.changes.length} changes for limit=${limit}`);
    for (const change of page.changes) this.events.push(change);
    this.cursor = page.cursor;
    // Caught up: poll again a little later, as a polling client does.
    if (page.changes.length === 0) await pause(20);
  }
}
