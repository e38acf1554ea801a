/**
 * Starting and stopping one Rowcast instance: database (embedded unless
 * DATABASE_URL), migrations, catalog, LISTEN, change feed, hub, HTTP server.
 */
import { createServer, type AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { createApp } from './app.js';
import { ChangeFeed } from './capture/change-feed.js';
import { ChangeLogReader } from './capture/change-log.js';
import { WAKEUP_CHANNEL, WakeupListener } from './capture/listener.js';
import { WakeupGate } from './capture/wakeup-gate.js';
import type { Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { RowcastError } from './errors.js';
import { Hub } from './hub/hub.js';
import { TableCatalog } from './hub/table-catalog.js';
import { WS_SUBPROTOCOL } from './protocol.js';
import { createAuthenticator } from './transports/authenticate.js';
import { ServerMetrics } from './observability/metrics.js';
import { ConnectionRegistry } from './transports/connections.js';

export interface RowcastServer {
  readonly url: string;
  readonly port: number;
  readonly databaseUrl: string;
  close(): Promise<void>;
}

const PAGE_SIZE = 1000;
const SHUTDOWN_GRACE_MS = 5000;
const LISTEN_PROBE_MS = 3000;
const SHUTDOWN_DRAIN_MS = 1000;

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

/** Why a listen on host:port failed, naming what to fix. */
function listenFailure(host: string, port: number, cause: NodeJS.ErrnoException): RowcastError {
  const why: Record<string, string> = {
    EADDRINUSE: 'the port is already in use',
    EADDRNOTAVAIL: 'HOST is not an address of this machine',
    ENOTFOUND: 'HOST does not resolve to an address',
    EAI_AGAIN: 'HOST does not resolve to an address',
    EACCES: 'permission denied (ports below 1024 need privileges)',
  };
  return new RowcastError('unavailable', `cannot listen on ${host}:${port}: ${(cause.code && why[cause.code]) ?? cause.message}`, { cause });
}

/** Listens once with a throw-away server: a taken port is refused before anything starts. */
function listenProblem(port: number, host: string): Promise<RowcastError | null> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (cause: NodeJS.ErrnoException) => resolve(listenFailure(host, port, cause)));
    probe.listen(port, host, () => probe.close(() => resolve(null)));
  });
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (cause: NodeJS.ErrnoException) => reject(listenFailure(host, port, cause)));
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

async function connect(url: string): Promise<Database> {
  const database = openDatabase(url);
  try {
    await sql`select 1`.execute(database.db);
    return database;
  } catch (cause) {
    await database.close().catch(() => {});
    const where = new URL(url);
    throw new RowcastError('unavailable', `cannot reach PostgreSQL at ${where.hostname}:${where.port || 5432}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * LISTEN through a transaction-pooling PgBouncer connects but never hears a
 * NOTIFY; without this check such a server would only see changes at each
 * fallback poll. One round trip at start tells.
 */
async function proveListenWorks(listener: WakeupListener, database: Database): Promise<void> {
  const heard = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), LISTEN_PROBE_MS);
    listener.once('wakeup', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  await sql`select pg_notify(${WAKEUP_CHANNEL}, '')`.execute(database.db);
  if (!(await heard)) {
    throw new RowcastError(
      'unavailable',
      `the LISTEN connection heard no NOTIFY within ${LISTEN_PROBE_MS} ms: is it behind a transaction-pooling PgBouncer? Point ROWCAST_LISTEN_URL at a direct or session-pooled connection`,
    );
  }
}

export async function startRowcast(config: Config, log: Logger): Promise<RowcastServer> {
  const problem = config.port === 0 ? null : await listenProblem(config.port, config.host);
  if (problem) throw problem;
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err: unknown) => log.warn({ err }, 'shutdown step failed'));
  };
  try {
    let embedded: EmbeddedDatabase | null = null;
    if (!config.databaseUrl) {
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort });
      cleanups.push(() => embedded!.stop());
      if (embedded.stoppedOrphan !== null) {
        log.warn({ dataDir: config.dataDir, pid: embedded.stoppedOrphan }, 'stopped the embedded PostgreSQL a killed Rowcast had left running');
      }
      log.info({ dataDir: config.dataDir, port: config.embeddedPgPort }, 'embedded PostgreSQL started');
    }
    const databaseUrl = config.databaseUrl ?? embedded!.url;
    const database = await connect(databaseUrl);
    cleanups.push(() => database.close());
    const { applied } = await migrate(database.db);
    if (applied.length > 0) log.info({ migrations: applied }, 'migrations applied');

    const authenticator = await createAuthenticator(config.jwt);
    if (authenticator.devMode) {
      log.warn('OPEN DEV MODE: no ROWCAST_JWT_SECRET, ROWCAST_JWT_PUBLIC_KEY or ROWCAST_JWKS_URL is set, so every client is admin and reads everything');
    }
    const catalog = new TableCatalog(database.db);
    await catalog.refresh();
    const reader = new ChangeLogReader(database.db, database.pool, catalog);
    const listenUrl = config.listenUrl ?? databaseUrl;
    const listener = new WakeupListener(listenUrl);
    await listener.start().catch((cause: Error) => {
      throw new RowcastError('unavailable', `cannot LISTEN at ${new URL(listenUrl).host}: ${cause.message}`, { cause });
    });
    cleanups.push(() => listener.close());
    await proveListenWorks(listener, database);
    const feed = new ChangeFeed(
      reader,
      {
        pageSize: PAGE_SIZE,
        tables: () => hub.subscribedTables(),
        fallbackPollMs: config.fallbackPollMs,
        retentionMs: config.retentionMs,
        pruneEveryMs: 60_000,
      },
      log,
      config.wakeup === 'debounced' ? new WakeupGate(databaseUrl, database.pool) : null,
    );
    const hub = new Hub({ reader, catalog, feedCursor: () => feed.cursor, publishedThrough: () => feed.publishedThrough, pageSize: PAGE_SIZE });
    const connections = new ConnectionRegistry(config.maxConnections);
    const metrics = new ServerMetrics({ connections, hub, feed, listener });
    feed.on('changes', (changes) => {
      hub.publish(changes);
      metrics.observeSent(changes);
    });
    feed.on('health', (healthy) => (healthy ? log.info('change log readable') : log.warn('change log unreadable')));
    const refreshCatalog = () => void catalog.refresh().catch((err: unknown) => log.warn({ err }, 'reloading exposed tables failed'));
    catalog.on('changed', (keys) => {
      log.info({ tables: keys }, 'exposed tables changed');
      hub.revalidate(keys);
    });
    listener.on('wakeup', (payload) => feed.wake(payload));
    feed.on('expired', () => hub.expireAll());
    listener.on('control', refreshCatalog);
    listener.on('connected', () => {
      log.info('LISTEN connection up');
      refreshCatalog();
      feed.wake();
    });
    listener.on('disconnected', (err) => log.warn({ err }, 'LISTEN connection down; reconnecting'));
    await feed.start();
    cleanups.push(() => feed.stop());

    const { app, websockets } = createApp({
      database,
      reader,
      feed,
      listener,
      hub,
      catalog,
      authenticator,
      connections,
      metrics,
      log,
      limits: {
        heartbeatMs: config.heartbeatMs,
        sseKeepAliveMs: config.sseKeepAliveMs,
        maxBufferBytes: config.maxBufferBytes,
        rateLimit: config.rateLimit,
      },
      allowedOrigins: config.allowedOrigins,
    });
    const wss = new WebSocketServer({
      noServer: true,
      // Frames over the limit are refused while being read (close 1009), never buffered whole.
      maxPayload: config.maxMessageBytes,
      perMessageDeflate: false,
      handleProtocols: (offered) => (offered.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false),
    });
    const server = createAdaptorServer({ fetch: app.fetch, websocket: { server: wss } }) as Server;
    const port = await listen(server, config.port, config.host);
    cleanups.push(async () => {
      websockets.stop();
      connections.shutdownAll();
      // Let SSE streams send their last chunk and WebSockets their close frame.
      await waitUntil(() => connections.size === 0, SHUTDOWN_DRAIN_MS);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    });
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    log.info({ url }, 'Rowcast is serving');
    let closing: Promise<void> | null = null;
    return {
      url,
      port,
      databaseUrl,
      close: () => {
        closing ??= Promise.race([cleanup(), new Promise<void>((r) => setTimeout(r, SHUTDOWN_GRACE_MS).unref())]);
        return closing;
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
