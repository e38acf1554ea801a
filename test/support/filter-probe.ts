/**
 * Many filters on one table, each a live WebSocket subscription and a
 * /changes query: what a test compares with an oracle. A connection holds at
 * most 100 subscriptions, so the filters are spread over connections of 99,
 * each with an unfiltered subscription too: once that one has a row, every
 * filter on its connection has had the rows before it (one connection
 * delivers in order).
 */
import { getJson } from './tokens.js';
import { TestWsClient } from './ws-client.js';

const PER_CONNECTION = 99;

export type ColumnFilter = Record<string, string>;

export class FilterProbe {
  private constructor(
    private readonly url: string,
    private readonly table: string,
    /** Where the probe started: the first connection's cursor, shared by all. */
    readonly since: string,
    private readonly connections: TestWsClient[],
  ) {}

  static async open(url: string, table: string, filters: readonly ColumnFilter[]): Promise<FilterProbe> {
    const connections: TestWsClient[] = [];
    let since = '';
    for (let first = 0; first < Math.max(filters.length, 1); first += PER_CONNECTION) {
      const ws = await TestWsClient.connect(url);
      connections.push(ws);
      if (first === 0) since = await ws.subscribe({ id: 'all', table });
      else await ws.subscribe({ id: 'all', table, since });
      for (let i = first; i < Math.min(first + PER_CONNECTION, filters.length); i++) {
        await ws.subscribe({ id: `f${i}`, table, filter: filters[i], ...(first > 0 ? { since } : {}) });
      }
    }
    return new FilterProbe(url, table, since, connections);
  }

  /** Waits until every connection has delivered the row with this id. */
  async waitForRow(id: unknown): Promise<void> {
    for (const ws of this.connections) await ws.waitFor((m) => m.type === 'change' && m.sub === 'all' && m.row.id === id, 15_000);
  }

  /** The ids of the rows filter i delivered live. */
  live(i: number): unknown[] {
    return this.connections[Math.floor(i / PER_CONNECTION)]!.changes(`f${i}`).map((c) => c.row.id);
  }

  /** The ids /changes answers for the filter since the probe started, or the HTTP status negated when it refuses. */
  async polled(filter: ColumnFilter): Promise<unknown[]> {
    const query = Object.entries(filter).map(([column, condition]) => `&${encodeURIComponent(column)}=${encodeURIComponent(condition)}`).join('');
    const { status, json } = await getJson(`${this.url}/changes/${this.table}?since=${this.since}${query}`);
    return status === 200 ? json.changes.map((c: { row: { id: unknown } }) => c.row.id) : [-status];
  }

  close(): void {
    for (const ws of this.connections) ws.close();
  }
}
