/**
 * The fan-out control: a plain `ws` server, nothing else, that on each
 * `batch` message sends the same pre-serialized change frame `frames` times
 * to every client. Same loop order as Rowcast's hub (changes outer, clients
 * inner), same socket options; what Rowcast adds on top is what W2 measures.
 * `corked` holds each socket's writes until the batch is sent, so a client's
 * frames leave in one writev instead of one system call each: the ceiling
 * of the transport on this machine.
 */
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

interface Start {
  type: 'start';
  frame: string;
  corked: boolean;
}
interface Batch {
  type: 'batch';
  frames: number;
}

let frame = Buffer.alloc(0);
let corked = false;
const clients = new Set<WebSocket>();
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('connection', (ws) => {
  clients.add(ws);
  ws.on('close', () => clients.delete(ws));
  ws.on('error', () => clients.delete(ws));
});

process.on('message', (message: Start | Batch) => {
  if (message.type === 'start') {
    frame = Buffer.from(message.frame);
    corked = message.corked;
    return;
  }
  // ws keeps its net.Socket in a private field; cork() is the plain Node API on it.
  const sockets = corked ? [...clients].map((ws) => (ws as unknown as { _socket: Socket })._socket) : [];
  for (const socket of sockets) socket.cork();
  for (let i = 0; i < message.frames; i++) {
    for (const ws of clients) ws.send(frame, { binary: false });
  }
  for (const socket of sockets) socket.uncork();
});
wss.on('listening', () => process.send?.({ type: 'listening', port: (wss.address() as AddressInfo).port }));
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
