/**
 * What the client needs of a WebSocket implementation — the browser's, or
 * `ws` in Node 20 (which has no global WebSocket) — and where it connects.
 */
import { ServerMessageSchema, WS_SUBPROTOCOL, type ServerMessage } from '../protocol.js';

export interface SocketMessageEvent {
  readonly data: unknown;
}

export interface SocketCloseEvent {
  readonly code: number;
  readonly reason: string;
}

/** The part of the WHATWG WebSocket API the client uses; the browser's WebSocket and `ws` both have it. */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the connection without the closing handshake a vanished peer never answers. */
  terminate?(): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: SocketMessageEvent) => void): void;
  addEventListener(type: 'close', listener: (event: SocketCloseEvent) => void): void;
  addEventListener(type: 'error', listener: () => void): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface Endpoints {
  /** The WebSocket feed, `…/ws`. */
  readonly ws: string;
  /** The server's HTTP base, for the routes of CONTRACT §5–§6. */
  readonly http: string;
}

/**
 * Accepts the server's base URL (`http://host:8080`), its `/ws` URL, or in a
 * browser a path relative to the page.
 */
export function endpointsOf(url: string): Endpoints {
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  const base = new URL(url, page);
  const secure = base.protocol === 'https:' || base.protocol === 'wss:';
  const path = base.pathname.replace(/\/+$/, '').replace(/\/ws$/, '');
  return {
    ws: `${secure ? 'wss' : 'ws'}://${base.host}${path}/ws`,
    http: `${secure ? 'https' : 'http'}://${base.host}${path}`,
  };
}

/** Browsers cannot set headers on a WebSocket, so the token rides as a subprotocol (CONTRACT §4). */
export function subprotocols(token: string | null): string[] {
  return token === null ? [WS_SUBPROTOCOL] : [WS_SUBPROTOCOL, `bearer.${token}`];
}

export function defaultWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}

const PROBE_TIMEOUT_MS = 5000;

/**
 * Whether the server refuses this token, asked over HTTP: to a WebSocket a
 * refused upgrade (HTTP 401) looks like any failed connection.
 */
export async function refusesToken(httpBase: string, token: string | null): Promise<boolean> {
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  try {
    const response = await fetch(`${httpBase}/tables`, { headers, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await response.body?.cancel();
    return response.status === 401;
  } catch {
    return false;
  }
}

/** A text frame of the server as a protocol message; throws what is wrong with it. */
export function parseServerFrame(data: unknown): ServerMessage {
  const parsed = ServerMessageSchema.safeParse(JSON.parse(String(data)));
  if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? 'unknown shape');
  return parsed.data;
}

/** How long a closing client waits for the server's side of the closing handshake. */
const CLOSE_GRACE_MS = 1000;

/** Closes with `code`; a peer that vanished never answers, and `ws` would wait 30 s for it, keeping the process alive. */
export function closeSocket(socket: WebSocketLike, code: number, reason: string): void {
  socket.close(code, reason);
  const grace = setTimeout(() => socket.terminate?.(), CLOSE_GRACE_MS);
  socket.addEventListener('close', () => clearTimeout(grace));
}

/** Drops a connection whose server stopped answering: no closing handshake to wait for. */
export function abandonSocket(socket: WebSocketLike): void {
  if (socket.terminate) socket.terminate();
  else socket.close();
}
