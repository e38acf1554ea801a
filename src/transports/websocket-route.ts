import { upgradeWebSocket } from '@hono/node-server';
import type { MiddlewareHandler } from 'hono';
import { asRowcastError, RowcastError } from '../errors.js';
import type { Principal } from '../hub/authorization.js';
import { tokenOf } from './authenticate.js';
import { httpError } from './http-error.js';
import { checkOrigin } from './origin.js';
import { WsConnection, type WebSocketDeps } from './websocket.js';

/**
 * The `/ws` route: authenticates and checks the connection limit before the
 * upgrade (so refusals are plain HTTP 401/503), and pings every connection
 * each heartbeat.
 */
export class WebSocketTransport {
  private readonly live = new Set<WsConnection>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly deps: WebSocketDeps) {
    this.timer = setInterval(() => {
      for (const connection of this.live) connection.heartbeat();
    }, deps.heartbeatMs);
    this.timer.unref();
  }

  handler(): MiddlewareHandler {
    return async (c, next) => {
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
        return httpError(c, new RowcastError('invalid_request', 'this route takes WebSocket upgrades'));
      }
      let principal: Principal;
      try {
        principal = await this.deps.authenticator.authenticate(tokenOf(c.req.raw.headers, new URL(c.req.url)));
        checkOrigin(c.req.raw.headers, this.deps.origins);
      } catch (error) {
        const e = asRowcastError(error);
        this.deps.connections.refuse(e.code === 'unauthorized' ? 'unauthorized' : 'forbidden_origin');
        return httpError(c, e);
      }
      if (!this.deps.connections.hasRoom()) {
        return httpError(c, new RowcastError('too_many_connections', 'the server is at its connection limit'));
      }
      const connection = new WsConnection(principal, this.deps, this.live);
      return upgradeWebSocket(() => connection.events())(c, next);
    };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
