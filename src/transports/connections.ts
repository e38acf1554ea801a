/**
 * ConnectionRegistry: the open WebSocket and SSE connections, the shared
 * limit on them (ROWCAST_MAX_CONNECTIONS), what the transports counted
 * (deliveries, refusals, slow consumers), and how to close them all on
 * shutdown.
 */
export type Transport = 'ws' | 'sse';
export type Refusal = 'connection_limit' | 'unauthorized' | 'forbidden_origin';

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
  readonly refused: Record<Refusal, number> = { connection_limit: 0, unauthorized: 0, forbidden_origin: 0 };
  readonly slowConsumerDrops: Record<Transport, number> = { ws: 0, sse: 0 };

  constructor(private readonly max: number) {}

  /** Whether one more connection fits; counts the refusal when not. */
  hasRoom(): boolean {
    const room = this.open.size < this.max;
    if (!room) this.refused.connection_limit += 1;
    return room;
  }

  refuse(reason: Refusal): void {
    this.refused[reason] += 1;
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
