/**
 * ConnectionRegistry: the open WebSocket and SSE connections, the shared
 * limit on them (ROWCAST_MAX_CONNECTIONS), and how to close them all on
 * shutdown.
 */
export type Transport = 'ws' | 'sse';

export interface OpenConnection {
  readonly transport: Transport;
  /** Ends the connection because the server is shutting down. */
  shutdown(): void;
}

export class ConnectionRegistry {
  private readonly open = new Set<OpenConnection>();
  readonly counts: Record<Transport, number> = { ws: 0, sse: 0 };
  /** Changes written to clients, by transport. */
  readonly delivered: Record<Transport, number> = { ws: 0, sse: 0 };
  /** Connections refused because the limit was reached. */
  refused = 0;

  constructor(private readonly max: number) {}

  hasRoom(): boolean {
    const room = this.open.size < this.max;
    if (!room) this.refused += 1;
    return room;
  }

  add(connection: OpenConnection): void {
    this.open.add(connection);
    this.counts[connection.transport] += 1;
  }

  delete(connection: OpenConnection): void {
    if (this.open.delete(connection)) this.counts[connection.transport] -= 1;
  }

  shutdownAll(): void {
    for (const connection of [...this.open]) connection.shutdown();
  }

  get size(): number {
    return this.open.size;
  }
}
