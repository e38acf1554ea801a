/**
 * The loop behind the resuming clients of resuming-clients.ts: connect,
 * subscribe from the newest cursor held, record, and after a drop or a loss
 * connect again from there, as CONTRACT §3 tells a client to. Within one
 * connection it also checks the order of what it is told: a change after a
 * cursor C must be after C (else resuming from C skips it), and a cursor
 * must not be behind the last change (else resuming from it repeats changes).
 * Loops are bounded in count and in time.
 */
import { onTestFinished } from 'vitest';
import { compareCursors, decodeCursor, type Cursor } from '../../src/capture/cursor.js';
import type { ChangeEvent } from '../../src/protocol.js';
import { waitFor } from './wait.js';
import { prng } from './workload.js';
import { changeKey } from './writers.js';

/** What a client subscribes to, as every transport names it. */
export interface SubscriptionSpec {
  table: string;
  ops?: readonly string[];
  filter?: Readonly<Record<string, string>>;
  /** A JWT: a Bearer header where the transport takes one, else `?token=`. */
  token?: string;
}

export interface ResumerOptions<Since extends string | undefined = string | undefined> extends SubscriptionSpec {
  /** Base URLs used in turn, one per connection: several server instances. */
  urls: readonly string[];
  /** Where the first connection starts; absent: "from now". */
  since?: Since;
  /** How long a connection is kept before the client drops it, ms; absent: until stopped or lost. */
  holdMs?: readonly [number, number];
  maxCycles?: number;
  maxRunMs?: number;
  seed?: number;
}

/** The query string of a subscription's ops and filter (SSE, /changes), after the `first` parameters. */
export function subscriptionQuery(spec: SubscriptionSpec, first: Record<string, string> = {}): URLSearchParams {
  const query = new URLSearchParams(first);
  if (spec.ops) query.set('ops', spec.ops.join(','));
  for (const [k, v] of Object.entries(spec.filter ?? {})) query.set(k, v);
  return query;
}

/** Pause between attempts while a server is unreachable: a retry interval, not a synchronization. */
export const RETRY_MS = 50;
export const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `Since` is `string` when the client was given a cursor to start from: then `cursor` is never undefined. */
export abstract class Resumer<Since extends string | undefined = string | undefined> {
  readonly events: ChangeEvent[] = [];
  /** Connections that could not be made or broke (server or database away). */
  readonly failures: string[] = [];
  /** What the server refused or reported as an error: tests usually expect none. */
  readonly refusals: string[] = [];
  /** Connections the server ended (close code, or "ended" for a stream), not the client. */
  readonly drops: string[] = [];
  /** What one connection was told out of order (see the top of this file), or an SSE id that is not its event's. */
  readonly violations: string[] = [];
  cycles = 0;
  /** The newest cursor held, where the next connection resumes: the last change's id or the last cursor frame. */
  cursor: string | Since;
  /** Where the very first connection started: for a "from now" client, the start of what it should get. */
  firstCursor: string | undefined;
  /** Cursors from the server (WebSocket `cursor`, SSE `event: cursor` after the start). */
  cursorFrames = 0;
  /** Cursor frames that moved the client past the last change seen. */
  cursorMoves = 0;
  /** Connections whose resume point was a cursor frame, not a change id. */
  resumedFromFrame = 0;
  private lastWasFrame = false;
  /** On the current connection: nothing at or before this may arrive any more. */
  private floor: Cursor | null = null;
  private stopped = false;
  private wake: () => void = () => {};
  private readonly stopSignal = new Promise<void>((resolve) => (this.wake = resolve));
  private loop: Promise<void> | null = null;
  private readonly random: () => number;

  constructor(protected readonly options: ResumerOptions<Since>) {
    this.cursor = options.since as Since;
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
  async waitForKey(key: string, timeoutMs = 25_000): Promise<void> {
    try {
      await waitFor(() => this.events.some((e) => changeKey(e) === key), { timeoutMs, what: key });
    } catch {
      const last = (list: string[]) => JSON.stringify(list.slice(-3));
      throw new Error(
        `${this.label()} did not receive ${key} within ${timeoutMs} ms: ${this.events.length} changes over ${this.cycles} connections; ` +
          `refusals ${last(this.refusals)}, failures ${last(this.failures)}, drops ${last(this.drops)}, violations ${last(this.violations)}`,
      );
    }
  }

  /** The client and its subscription, for assertion messages. */
  label(): string {
    const { table, ops, filter } = this.options;
    return `${this.constructor.name}(${table}${ops ? ` ops=${ops.join(',')}` : ''}${filter ? ` ${JSON.stringify(filter)}` : ''})`;
  }

  /** The connection started at `at` (subscribed reply, first SSE cursor event); it was asked to start at `asked`. */
  protected started(at: string, asked: string | undefined, where: string): void {
    if (asked !== undefined && at !== asked) this.violations.push(`${where}: started at ${at}, asked for ${asked}`);
    this.firstCursor ??= at;
    this.floor = decodeCursor(at);
    this.cursor ??= at;
  }

  protected change(event: ChangeEvent, where: string): void {
    const at = decodeCursor(event.id);
    if (this.floor && compareCursors(at, this.floor) <= 0) {
      this.violations.push(`${where}: change ${event.id} (${changeKey(event)}) arrived after the client already held cursor ${this.cursor}`);
    }
    this.floor = at;
    this.events.push(event);
    this.cursor = event.id;
    this.lastWasFrame = false;
  }

  /** A cursor the server handed over: the next connection resumes there. */
  protected cursorFrame(cursor: string, where: string): void {
    this.cursorFrames += 1;
    const at = decodeCursor(cursor);
    if (this.floor && compareCursors(at, this.floor) < 0) {
      this.violations.push(`${where}: cursor ${cursor} is behind what the client held (${this.cursor})`);
    }
    this.floor = at;
    if (cursor !== this.cursor) {
      this.cursorMoves += 1;
      this.lastWasFrame = true;
    }
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
    while (!this.stopped && this.cycles < (this.options.maxCycles ?? 2000) && Date.now() < deadline) {
      const { urls } = this.options;
      const url = urls[this.cycles % urls.length] as string;
      this.cycles += 1;
      if (this.lastWasFrame) this.resumedFromFrame += 1;
      this.floor = null;
      try {
        await this.connection(url, `connection ${this.cycles} to ${url}`);
      } catch (error) {
        this.failures.push(String(error));
        if (!this.stopped) await pause(RETRY_MS);
      }
    }
  }

  /** One connection: subscribe from `cursor`, record, return when it is dropped or lost; `where` names it in violations. */
  protected abstract connection(url: string, where: string): Promise<void>;
}
