/**
 * A real WebSocket client (ws) that records every frame, checks each against
 * the protocol's schema, and lets a test wait for what it expects.
 */
import WebSocket from 'ws';
import { ServerMessageSchema, type ChangeMessage, type ServerMessage } from '../../src/protocol.js';
import { waitFor } from './wait.js';

export class TestWsClient {
  readonly messages: ServerMessage[] = [];
  /** Frames that did not match the protocol schema (a test asserts this stays empty). */
  readonly malformed: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly opened: Promise<void>;

  constructor(
    readonly socket: WebSocket,
  ) {
    this.socket.on('message', (data) => {
      const text = data.toString();
      const parsed = ServerMessageSchema.safeParse(JSON.parse(text));
      if (parsed.success) this.messages.push(parsed.data);
      else this.malformed.push(text);
    });
    this.closed = new Promise((resolve) => this.socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
      this.socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  static async connect(baseUrl: string, options: { path?: string; headers?: Record<string, string>; protocols?: string[] } = {}): Promise<TestWsClient> {
    const url = baseUrl.replace(/^http/, 'ws') + (options.path ?? '/ws');
    const client = new TestWsClient(new WebSocket(url, options.protocols ?? [], { headers: options.headers ?? {} }));
    await client.opened;
    await client.waitFor((m) => m.type === 'welcome');
    return client;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  async waitFor<T extends ServerMessage = ServerMessage>(match: (m: ServerMessage) => boolean, timeoutMs = 10_000): Promise<T> {
    return (await waitFor(() => this.messages.find(match), { timeoutMs, what: `a matching frame (got ${JSON.stringify(this.messages.slice(-3))})` })) as T;
  }

  /** Subscribes and waits for the `subscribed` reply. */
  async subscribe(message: Record<string, unknown> & { id: string; table: string }): Promise<string> {
    this.send({ type: 'subscribe', ...message });
    const reply = await this.waitFor((m) => (m.type === 'subscribed' || m.type === 'error') && ('id' in m ? m.id : m.ref) === message.id);
    if (reply.type !== 'subscribed') throw new Error(`subscribe refused: ${JSON.stringify(reply)}`);
    return reply.cursor;
  }

  changes(sub?: string): ChangeMessage[] {
    return this.messages.filter((m): m is ChangeMessage => m.type === 'change' && (sub === undefined || m.sub === sub));
  }

  async waitForChanges(count: number, sub?: string, timeoutMs = 15_000): Promise<ChangeMessage[]> {
    await waitFor(() => this.changes(sub).length >= count, { timeoutMs, what: `${count} changes (have ${this.changes(sub).length})` });
    return this.changes(sub);
  }

  close(): void {
    this.socket.close();
  }
}
