/**
 * Cross-site WebSocket hijacking and cross-site SSE: a browser sends the page's
 * Origin, and only allowed origins may open a feed. Clients that are not
 * browsers send no Origin and are judged by their token alone. The same list
 * tells browsers, by CORS, which pages may read the HTTP feeds.
 */
import { cors } from 'hono/cors';
import type { MiddlewareHandler } from 'hono';
import { RowcastError } from '../errors.js';

export interface OriginPolicy {
  /** ROWCAST_ALLOWED_ORIGINS; `*` allows any. */
  allowed: readonly string[];
  /** Open dev mode allows any origin. */
  permissive: boolean;
}

function originAllowed(origin: string, host: string | undefined, policy: OriginPolicy): boolean {
  if (policy.permissive || policy.allowed.includes('*') || policy.allowed.includes(origin)) return true;
  // The server's own pages (the dashboard) are same-origin.
  return host !== undefined && URL.canParse(origin) && new URL(origin).host === host;
}

export function checkOrigin(headers: Headers, policy: OriginPolicy): void {
  const origin = headers.get('origin');
  if (!origin || originAllowed(origin, headers.get('host') ?? undefined, policy)) return;
  throw new RowcastError('forbidden', `origin ${origin} is not allowed (ROWCAST_ALLOWED_ORIGINS)`);
}

/**
 * CORS for the routes a browser page reads (EventSource, fetch): an allowed
 * origin is echoed back, any other gets no CORS header. Tokens travel in the
 * Authorization header or the query, never in cookies, so no credentials.
 */
export function corsForAllowedOrigins(policy: OriginPolicy): MiddlewareHandler {
  return cors({
    origin: (origin, c) => (originAllowed(origin, c.req.header('host'), policy) ? origin : null),
    allowMethods: ['GET', 'HEAD'],
    allowHeaders: ['Authorization', 'Last-Event-ID'],
    maxAge: 600,
  });
}
