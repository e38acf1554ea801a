/** Plain HTTP routes (CONTRACT §6): /health, /tables, /changes/:table, /stats. */
import type { Context, Hono } from 'hono';
import { sql, type Kysely } from 'kysely';
import type { ChangeLogReader } from '../capture/change-log.js';
import type { ChangeFeed } from '../capture/change-feed.js';
import type { Change } from '../capture/change.js';
import { decodeCursor, encodeCursor, type Cursor } from '../capture/cursor.js';
import type { WakeupListener } from '../capture/listener.js';
import type { RowcastTables } from '../db/database.js';
import { asRowcastError } from '../errors.js';
import { readGrant } from '../hub/authorization.js';
import type { Hub } from '../hub/hub.js';
import type { TableCatalog } from '../hub/table-catalog.js';
import { ChangesQuerySchema } from '../protocol.js';
import { tokenOf, type Authenticator } from './authenticate.js';
import type { ConnectionRegistry } from './connections.js';
import { parseFeedQuery } from './feed-query.js';
import { httpError } from './http-error.js';

export interface HttpDeps {
  db: Kysely<RowcastTables>;
  reader: ChangeLogReader;
  feed: ChangeFeed;
  listener: WakeupListener;
  hub: Hub;
  catalog: TableCatalog;
  authenticator: Authenticator;
  connections: ConnectionRegistry;
}

/** Pages read per /changes request at most, so a filter matching nothing cannot scan forever. */
const MAX_PAGES_PER_REQUEST = 20;

async function databaseUp(db: Kysely<RowcastTables>): Promise<boolean> {
  try {
    await Promise.race([
      sql`select 1`.execute(db),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
    ]);
    return true;
  } catch {
    return false;
  }
}

export function mountHttpRoutes(app: Hono, deps: HttpDeps): void {
  const principalOf = async (c: Context) => {
    try {
      return await deps.authenticator.authenticate(tokenOf(c.req.raw.headers, new URL(c.req.url)));
    } catch (error) {
      // Counted with the refused connections: rowcast_connections_refused_total{reason="unauthorized"}.
      deps.connections.refuse('unauthorized');
      throw error;
    }
  };

  // Liveness: the process answers. /health is readiness: database and listener up.
  app.get('/live', (c) => c.json({ status: 'alive' }));

  app.get('/health', async (c) => {
    const database = await databaseUp(deps.db);
    const listener = deps.listener.connected;
    const healthy = database && listener;
    return c.json(
      {
        status: healthy ? 'healthy' : 'unhealthy',
        database: database ? 'up' : 'down',
        listener: listener ? 'connected' : 'disconnected',
        feed: deps.feed.healthy ? 'reading' : 'retrying',
        lag_ms: deps.feed.lagMs,
      },
      healthy ? 200 : 503,
    );
  });

  app.get('/tables', async (c) => {
    try {
      const principal = await principalOf(c);
      const tables = deps.catalog.list().filter((t) => {
        try {
          readGrant(principal, t.info, t.rule);
          return true;
        } catch {
          return false;
        }
      });
      return c.json({ tables: tables.map((t) => t.info) });
    } catch (error) {
      return httpError(c, asRowcastError(error));
    }
  });

  app.get('/changes/:table', async (c) => {
    try {
      const principal = await principalOf(c);
      const { query, filter } = parseFeedQuery(new URL(c.req.url), ChangesQuerySchema);
      const match = () =>
        deps.hub.match({
          table: c.req.param('table'),
          ...(query.ops ? { ops: query.ops } : {}),
          ...(filter ? { filter } : {}),
          principal,
        });
      let { table, matcher } = match();
      let version = deps.catalog.version;
      let after: Cursor = query.since ? decodeCursor(query.since) : await deps.reader.oldest();
      // Places what committed before this request, so a client polling right after its own
      // write reads it (a pass that finds nothing new writes nothing).
      await deps.reader.sequence();
      const changes: Change[] = [];
      for (let pages = 0; pages < MAX_PAGES_PER_REQUEST && changes.length < query.limit; pages++) {
        const page = await deps.reader.readAfter(after, {
          limit: query.limit,
          table: { schema: table.info.schema, name: table.info.name },
          // Without `since`, a prune alongside may move the oldest on: no client's cursor expired.
          fromOldest: !query.since && pages === 0,
        });
        // The read brought the catalog up to the rules these changes were committed under.
        if (deps.catalog.version !== version) {
          ({ table, matcher } = match());
          version = deps.catalog.version;
        }
        for (const change of page.changes) {
          after = change.cursor;
          const view = matcher.admit(change);
          if (view) changes.push(view);
          if (changes.length === query.limit) break;
        }
        if (page.changes.length < query.limit && changes.length < query.limit) {
          // Read to the end of the log: the next poll starts after all of it.
          after = page.head;
          break;
        }
      }
      const body = `{"changes":[${changes.map((ch) => ch.json).join(',')}],"cursor":"${encodeCursor(after)}"}`;
      return c.body(body, 200, { 'content-type': 'application/json' });
    } catch (error) {
      return httpError(c, asRowcastError(error));
    }
  });

  app.get('/stats', async (c) => {
    try {
      await principalOf(c);
    } catch (error) {
      return httpError(c, asRowcastError(error));
    }
    const { connections, hub, feed, listener } = deps;
    const stats = {
      connections: { ...connections.counts },
      subscriptions: hub.subscriptionCount,
      changes: {
        received: hub.received,
        delivered: connections.delivered.ws + connections.delivered.sse,
        delivered_by_transport: { ...connections.delivered },
        pruned: feed.changesPruned,
      },
      listener: { connected: listener.connected, lag_ms: feed.lagMs, reconnects: listener.reconnects },
      // Where the live feed stands: everything committed up to here has been sequenced and published;
      // and how often it reads while awake (null: asleep, woken by NOTIFY).
      feed: { cursor: encodeCursor(feed.cursor), pace_ms: feed.paceMs },
      tables: Object.fromEntries([...hub.subscriptionsByTable()].map(([table, n]) => [table, { subscriptions: n }])),
      refused: { ...connections.refused },
      slow_consumer_drops: { ...connections.slowConsumerDrops },
    };
    return c.json(stats);
  });
}

