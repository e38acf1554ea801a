/**
 * Cross-site WebSocket hijacking and cross-site SSE: a browser sends the page's
 * Origin, and only allowed origins may open a feed. Clients that are not
 * browsers send no Origin and are judged by their token alone.
 */
import { RowcastError } from '../errors.js';

export interface OriginPolicy {
  /** ROWCAST_ALLOWED_ORIGINS; `*` allows any. */
  allowed: readonly string[];
  /** Open dev mode allows any origin. */
  permissive: boolean;
}

export function checkOrigin(headers: Headers, policy: OriginPolicy): void {
  const origin = headers.get('origin');
  if (!origin || policy.permissive || policy.allowed.includes('*') || policy.allowed.includes(origin)) return;
  // The server's own pages (the dashboard) are same-origin.
  const host = headers.get('host');
  if (host && URL.canParse(origin) && new URL(origin).host === host) return;
  throw new RowcastError('forbidden', `origin ${origin} is not allowed (ROWCAST_ALLOWED_ORIGINS)`);
}
