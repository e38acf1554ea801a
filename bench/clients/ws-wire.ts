/**
 * A minimal WebSocket client (RFC 6455) for the subscriber processes: it
 * hands each text frame to the caller as a slice of the socket's buffer, with
 * no per-frame event, copy or string. With the `ws` client the subscriber
 * processes, not the server under test, ran out of CPU first on this 2-core
 * machine. Enough of the protocol for Rowcast's server: no fragmentation, no
 * extensions; pings are answered.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';

export interface WireSocket {
  sendText(text: string): void;
  destroy(): void;
}

export interface WireHandlers {
  /** A text frame: its payload is buffer[start, end). */
  text(buffer: Buffer, start: number, end: number): void;
  open(): void;
  /** The connection ended: the close frame's code, or 1006 without one. */
  closed(code: number): void;
  error(error: Error): void;
}

const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** A masked client frame, as the protocol requires of clients. */
function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const header = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]);
  const mask = randomBytes(4);
  const masked = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) masked[i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([header, mask, masked]);
}

export function connectWire(url: URL, headers: Record<string, string>, on: WireHandlers): WireSocket {
  const socket = net.connect({ host: url.hostname, port: Number(url.port), noDelay: true });
  let handshaken = false;
  let closeCode = 1006;
  let pending: Buffer | null = null;
  socket.on('connect', () => {
    const lines = [
      `GET ${url.pathname}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
  socket.on('data', (chunk: Buffer) => {
    let data = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    if (!handshaken) {
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) {
        pending = data;
        return;
      }
      const status = data.toString('latin1', 0, end).split('\r\n')[0] ?? '';
      if (!status.startsWith('HTTP/1.1 101')) {
        on.error(new Error(`upgrade refused: ${status}`));
        socket.destroy();
        return;
      }
      handshaken = true;
      on.open();
      data = data.subarray(end + 4);
    }
    let off = 0;
    for (;;) {
      const available = data.length - off;
      if (available < 2) break;
      const b0 = data[off] as number;
      let len = (data[off + 1] as number) & 0x7f;
      let header = 2;
      if (len === 126) {
        if (available < 4) break;
        len = data.readUInt16BE(off + 2);
        header = 4;
      } else if (len === 127) {
        if (available < 10) break;
        len = Number(data.readBigUInt64BE(off + 2));
        header = 10;
      }
      if (available < header + len) break;
      const start = off + header;
      const end = start + len;
      const opcode = b0 & 0x0f;
      if (opcode === OP_TEXT) on.text(data, start, end);
      else if (opcode === OP_PING) socket.write(frame(OP_PONG, data.subarray(start, end)));
      else if (opcode === OP_CLOSE) closeCode = len >= 2 ? data.readUInt16BE(start) : 1005;
      off = end;
    }
    if (off < data.length) pending = data.subarray(off);
  });
  socket.on('error', (error) => on.error(error));
  socket.on('close', () => on.closed(closeCode));
  return {
    sendText: (text) => void socket.write(frame(OP_TEXT, Buffer.from(text))),
    destroy: () => socket.destroy(),
  };
}
