/** The Hono application: every route of the contract, wired to its transport. */
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import type { ChangeFeed } from './capture/change-feed.js';
import type { ChangeLogReader } from './capture/change-log.js';
import type { WakeupListener } from './capture/listener.js';
import { mountDashboard } from './dashboard/mount.js';
import type { Database } from './db/database.js';
import type { Hub } from './hub/hub.js';
import type { TableCatalog } from './hub/table-catalog.js';
import type { ServerMetrics } from './observability/metrics.js';
import type { Authenticator } from './transports/authenticate.js';
import type { ConnectionRegistry } from './transports/connections.js';
import { mountHttpRoutes } from './transports/http.js';
import { corsForAllowedOrigins } from './transports/origin.js';
import { sseHandler } from './transports/sse.js';
import { WebSocketTransport } from './transports/websocket-route.js';

export interface AppDeps {
  database: Database;
  reader: ChangeLogReader;
  feed: ChangeFeed;
  listener: WakeupListener;
  hub: Hub;
  catalog: TableCatalog;
  authenticator: Authenticator;
  connections: ConnectionRegistry;
  metrics: ServerMetrics;
  log: Logger;
  limits: { heartbeatMs: number; sseKeepAliveMs: number; maxBufferBytes: number; rateLimit: number };
  allowedOrigins: string[];
}

export function createApp(deps: AppDeps): { app: Hono; websockets: WebSocketTransport } {
  const app = new Hono();
  app.use(requestId());
  const { hub, authenticator, connections, log, limits } = deps;
  const origins = { allowed: deps.allowedOrigins, permissive: authenticator.devMode };
  const websockets = new WebSocketTransport({
    hub,
    authenticator,
    connections,
    log,
    heartbeatMs: limits.heartbeatMs,
    maxBufferBytes: limits.maxBufferBytes,
    rateLimit: limits.rateLimit,
    origins,
  });
  app.get('/ws', websockets.handler());
  // WebSocket upgrades are not subject to CORS (checked by origin above); these reads are.
  const corsPolicy = corsForAllowedOrigins(origins);
  for (const path of ['/sse/*', '/changes/*', '/tables']) app.use(path, corsPolicy);
  app.get(
    '/sse/:table',
    sseHandler({ hub, authenticator, connections, log, keepAliveMs: limits.sseKeepAliveMs, maxBufferBytes: limits.maxBufferBytes, origins }),
  );
  mountHttpRoutes(app, { ...deps, db: deps.database.db });
  mountDashboard(app);
  app.get('/metrics', async (c) => c.body(await deps.metrics.registry.metrics(), 200, { 'content-type': deps.metrics.registry.contentType }));
  app.notFound((c) => c.json({ error: { code: 'invalid_request', message: `no route ${c.req.method} ${c.req.path}` } }, 404));
  app.onError((error, c) => {
    log.error({ err: error, requestId: c.get('requestId') }, 'unhandled route error');
    return c.json({ error: { code: 'internal_error', message: 'internal error' } }, 500);
  });
  return { app, websockets };
}
