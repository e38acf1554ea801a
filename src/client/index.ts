/**
 * The Rowcast client SDK (`rowcast/client`), for browsers and Node 20+:
 *
 *   const client = createClient({ url: 'http://127.0.0.1:8080', token: getToken, WebSocket });
 *   const stop = client.subscribe('orders', { filter: { status: 'eq.paid' } }, (change) => change.row.total);
 *
 * It imports only the protocol and the generated row types, so it bundles for the browser as is.
 */
import { RowcastClient, type ClientOptions } from './client.js';
import type { RowcastTables } from './tables.js';

/** A client typed by `Tables` (table name → row type), by default the tables `rowcast types` generated. */
export function createClient<Tables = RowcastTables>(options: ClientOptions): RowcastClient<Tables> {
  return new RowcastClient<Tables>(options);
}

export { RowcastClient, type ClientEvents, type ClientOptions } from './client.js';
export {
  backoffDelay,
  RowcastClientError,
  type BackoffOptions,
  type ConnectionState,
  type ConnectionStateKind,
} from './connection-state.js';
export type { SocketCloseEvent, SocketMessageEvent, WebSocketConstructor, WebSocketLike } from './socket.js';
export { subscribeSse, sseUrl, type EventSourceConstructor, type EventSourceLike, type SseOptions } from './sse.js';
export type { ChangeEvent, ColumnFilter, SubscribeOptions } from './subscription.js';
export type { Notifications, Orders, Posts, RowcastTables } from './tables.js';
export { tokenExpiry, type TokenSource } from './token.js';
export type { Op } from '../protocol.js';
