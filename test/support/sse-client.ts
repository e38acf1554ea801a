/** A real EventSource client (the `eventsource` package) that records change events. */
import { EventSource } from 'eventsource';
import { ChangeEventSchema, SseCursorEventSchema, type ChangeEvent } from '../../src/protocol.js';
import { waitFor } from './wait.js';

export class TestSseClient {
  readonly events: ChangeEvent[] = [];
  readonly ids: string[] = [];
  readonly errors: string[] = [];
  /** The ids of `event: cursor` frames, in order. */
  readonly cursors: string[] = [];
  private readonly source: EventSource;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.source = new EventSource(url, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }),
    });
    this.source.addEventListener('change', (event) => {
      this.events.push(ChangeEventSchema.parse(JSON.parse(event.data)) as ChangeEvent);
      this.ids.push(event.lastEventId);
    });
    this.source.addEventListener('cursor', (event) => {
      this.cursors.push(SseCursorEventSchema.parse(JSON.parse(event.data)).cursor);
    });
    this.source.addEventListener('error', (event) => {
      this.errors.push(String((event as { message?: string }).message ?? 'error'));
    });
  }

  async opened(): Promise<void> {
    await waitFor(() => this.source.readyState === EventSource.OPEN, { what: 'SSE open' });
  }

  async waitForEvents(count: number, timeoutMs = 15_000): Promise<ChangeEvent[]> {
    await waitFor(() => this.events.length >= count, { timeoutMs, what: `${count} SSE events (have ${this.events.length})` });
    return this.events;
  }

  close(): void {
    this.source.close();
  }
}
