/**
 * A TCP proxy in front of a server, for network faults a client must live
 * through: `freeze()` silences every open connection without closing it (a
 * peer gone without a FIN), `cut()` resets them, and `hold()` keeps new
 * connections waiting, not yet connected upstream, until `release()`.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpProxy {
  url: string;
  /** Connections accepted so far, held ones included. */
  readonly accepted: number;
  freeze(): void;
  cut(): void;
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs: Array<{ client: Socket; upstream: Socket; frozen: boolean }> = [];
  let held: Socket[] | null = null;
  let accepted = 0;
  const join = (client: Socket) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair = { client, upstream, frozen: false };
    pairs.push(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      if (pair.frozen) return;
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  };
  const server = createServer((client) => {
    accepted += 1;
    if (!held) return join(client);
    client.on('error', () => client.destroy());
    held.push(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get accepted() {
      return accepted;
    },
    freeze() {
      for (const pair of pairs) {
        pair.frozen = true;
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        pair.client.pause();
        pair.upstream.pause();
      }
    },
    cut() {
      for (const { client, upstream } of pairs.splice(0)) {
        client.resetAndDestroy();
        upstream.destroy();
      }
    },
    hold() {
      held ??= [];
    },
    release() {
      const waiting = held ?? [];
      held = null;
      for (const client of waiting) if (!client.destroyed) join(client);
    },
    async close() {
      for (const client of held ?? []) client.destroy();
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
