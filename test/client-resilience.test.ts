/**
 * The client SDK when the server refuses or goes quiet (README "For app
 * developers"): a subscribe frame too large (1009) or more subscriptions
 * than a rate-limit burst do not turn into reconnect loops; subscriptions
 * refused with rate_limited are asked again; a token function returning the
 * same token does not flood `auth` frames; close() leaves nothing running,
 * also after the heartbeat gave up on a silent server and when called from
 * the 'open' listener; subscribeSse waits out a full server (503).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { createClient, subscribeSse, type RowcastClientError } from '../src/client/index.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { ROOT } from './support/server-process.js';
import { startTcpProxy } from './support/tcp-proxy.js';
import { hmacToken, nowSeconds, SECRET } from './support/tokens.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

type AnyTables = Record<string, Record<string, unknown>>;
const FAST = { initialMs: 20, maxMs: 200 };

interface Wire {
  sockets: number;
  sent: Array<{ type: string }>;
  closes: number[];
}

/** A `ws` WebSocket counting the sockets the client opens, the frames it sends and the close codes it sees. */
function recordingWebSocket(): { Impl: typeof WebSocket; wire: Wire } {
  const wire: Wire = { sockets: 0, sent: [], closes: [] };
  class Recording extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      wire.sockets += 1;
      this.on('close', (code) => wire.closes.push(code));
    }
    override send(data: string): void {
      wire.sent.push(JSON.parse(String(data)) as { type: string });
      super.send(data);
    }
  }
  return { Impl: Recording as unknown as typeof WebSocket, wire };
}

/** Time itself is the condition here: the client is watched for a while on its own. */
const elapse = (ms: number, what: string) => {
  const until = Date.now() + ms;
  return waitFor(() => Date.now() >= until, { timeoutMs: ms + 5_000, intervalMs: 20, what });
};

test('a subscribe frame larger than the server takes (1009) is dropped with an error, not sent again in a reconnect loop; the others go on', async ({ database }) => {
  const server = await startTestServer(database.url, { maxMessageBytes: 4096 });
  const { Impl, wire } = recordingWebSocket();
  const client = createClient<AnyTables>({ url: server.url, WebSocket: Impl, backoff: FAST });
  const errors: RowcastClientError[] = [];
  client.on('error', (e) => errors.push(e));
  const list = (prefix: string) => `in.(${Array.from({ length: 500 }, (_, i) => `${prefix}${i}`).join(',')})`;
  const got: string[] = [];
  try {
    await waitFor(() => client.state.kind === 'open', { what: 'open' });
    client.subscribe('posts', { filter: { title: `eq.small` } }, (c) => got.push(String(c.row.title)));
    // Each condition is under 4096 characters; the frame is not.
    client.subscribe('posts', { filter: { title: list('t'), body: list('b') } }, () => {});
    await waitFor(() => errors.length > 0, { what: 'the error about the large subscription' });
    await elapse(2_000, 'two seconds of the client on its own');
    expect({ errors: errors.map((e) => `${e.code} ${e.table}`), closes: wire.closes, sockets: wire.sockets }).toEqual({ errors: ['message_too_big posts'], closes: [1009], sockets: 2 });
    await database.query("insert into posts (title) values ('small')");
    await waitFor(() => got.length === 1, { what: 'the small subscription to go on' });
  } finally {
    client.close();
    await server.close();
  }
});

test('more subscriptions than a rate-limit burst (210 at the default 50/s) are asked a window at a time: no 1008 close, one socket, 100 set up', async ({ rowcast }) => {
  const { Impl, wire } = recordingWebSocket();
  const client = createClient<AnyTables>({ url: rowcast.url, WebSocket: Impl, backoff: FAST });
  const errors: RowcastClientError[] = [];
  client.on('error', (e) => errors.push(e));
  let subscribed = 0;
  try {
    for (let i = 0; i < 210; i++) client.subscribe('posts', { filter: { title: `eq.t${i}` }, onSubscribed: () => (subscribed += 1) }, () => {});
    // The server takes 100 subscriptions per connection: the rest are refused, once each.
    await waitFor(() => subscribed + errors.length >= 210, { timeoutMs: 20_000, what: 'an answer for every subscription' });
    expect({ sockets: wire.sockets, closes: wire.closes, subscribed, refused: [...new Set(errors.map((e) => e.code))] }).toEqual({ sockets: 1, closes: [], subscribed: 100, refused: ['too_many_subscriptions'] });
  } finally {
    client.close();
  }
});

test('subscriptions refused with rate_limited (ROWCAST_RATE_LIMIT=5, 14 at connect) are asked again, and every handler gets its row', async ({ database }) => {
  const server = await startTestServer(database.url, { rateLimit: 5 });
  const client = createClient<AnyTables>({ url: server.url, WebSocket, backoff: FAST });
  const got: string[][] = Array.from({ length: 14 }, () => []);
  let subscribed = 0;
  try {
    for (let i = 0; i < 14; i++) client.subscribe('posts', { filter: { title: `eq.rl-${i}` }, onSubscribed: () => (subscribed += 1) }, (c) => got[i]!.push(String(c.row.title)));
    await waitFor(() => subscribed === 14, { timeoutMs: 15_000, what: 'all 14 to be set up' });
    await database.query(`insert into posts (title) values ${Array.from({ length: 14 }, (_, i) => `('rl-${i}')`).join(', ')}`);
    await waitFor(() => got.every((g) => g.length === 1), { what: 'every handler to get its row' });
  } finally {
    client.close();
    await server.close();
  }
});

test('a token function returning the same (cached) token is not sent again and again as its exp nears and passes', { timeout: 30_000 }, async ({ database }) => {
  const server = await startTestServer(database.url, { jwt: { secret: SECRET } });
  const { Impl, wire } = recordingWebSocket();
  const exp = nowSeconds() + 3;
  const token = await hmacToken({ sub: 'u1', role: 'staff' }, { exp });
  let calls = 0;
  const client = createClient<AnyTables>({ url: server.url, WebSocket: Impl, backoff: FAST, token: () => ((calls += 1), token) });
  const errors: RowcastClientError[] = [];
  client.on('error', (e) => errors.push(e));
  try {
    await waitFor(() => client.state.kind === 'open', { what: 'open' });
    await waitFor(() => Date.now() > exp * 1000 + 2_000, { timeoutMs: 10_000, intervalMs: 50, what: 'two seconds past exp' });
    expect({ auths: wire.sent.filter((m) => m.type === 'auth').length, fewCalls: calls <= 8, rateLimited: errors.filter((e) => e.code === 'rate_limited').length }).toEqual({ auths: 0, fewCalls: true, rateLimited: 0 });
  } finally {
    client.close();
    await server.close();
  }
});

/** Runs an SDK script in a Node process of its own; resolves with its lines and how long after printing `closed` it exited (null: killed 8 s after). */
async function runScript(dir: string, source: string, args: string[], onLine: (line: string) => void = () => {}): Promise<{ lines: string[]; exitAfterCloseMs: number | null }> {
  const file = join(dir, `sdk-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(file, source);
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [file, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let closedAt: number | null = null;
  let buffer = '';
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      if (line === 'closed') closedAt = Date.now();
      onLine(line);
    }
  });
  return new Promise((resolve) => {
    let killed = false;
    const watchdog = setInterval(() => {
      if (closedAt !== null && Date.now() - closedAt > 8_000) {
        killed = true;
        child.kill('SIGKILL');
      }
    }, 50);
    child.once('exit', () => {
      clearInterval(watchdog);
      resolve({ lines, exitAfterCloseMs: killed || closedAt === null ? null : Date.now() - closedAt });
    });
  });
}

const importsOf = `import WebSocket from '${ROOT}/node_modules/ws/wrapper.mjs';\nimport { createClient } from '${ROOT}/src/client/index.ts';\n`;

/** Closes once the second connection (after the proxy froze the first) is open. */
const AFTER_DEAD_HEARTBEAT = `${importsOf}
const client = createClient({ url: process.argv[2], WebSocket, backoff: { initialMs: 20, maxMs: 200 } });
let opens = 0;
client.on('state', (s) => { if (s.kind === 'open' && ++opens === 2) { client.close(); console.log('closed'); } });
client.subscribe('posts', { onSubscribed: () => console.log('subscribed') }, () => {});
`;

/** Closes from the 'open' listener, as an application that no longer needs the feed might. */
const ON_OPEN = `${importsOf}
const [url, token] = process.argv.slice(2);
const client = createClient({ url, WebSocket, token: () => { console.log('token call'); return token; } });
client.on('state', (s) => { if (s.kind === 'open') { client.close(); console.log('closed'); } });
client.subscribe('posts', {}, () => {});
`;

test('close() leaves nothing running: after the heartbeat gave up on a silent server, and when called from the open listener (no heartbeat, no refresh timer, no later token call)', { timeout: 60_000 }, async ({ database }) => {
  const server = await startTestServer(database.url, { heartbeatMs: 300, jwt: { secret: SECRET } });
  const proxy = await startTcpProxy(server.port);
  const dir = mkdtempSync(join(tmpdir(), 'rowcast-sdk-'));
  try {
    const token = (seconds: number) => hmacToken({ sub: 'u1', role: 'staff' }, { exp: nowSeconds() + seconds });
    const script = AFTER_DEAD_HEARTBEAT.replace("url: process.argv[2], WebSocket,", `url: process.argv[2], WebSocket, token: ${JSON.stringify(await token(3600))},`);
    const dead = await runScript(dir, script, [proxy.url], (line) => line === 'subscribed' && proxy.freeze());
    const hour = await runScript(dir, ON_OPEN, [server.url, await token(3600)]);
    const short = await runScript(dir, ON_OPEN, [server.url, await token(4)]);
    const summary = (run: Awaited<ReturnType<typeof runScript>>) => ({ exitedWithin2s: run.exitAfterCloseMs !== null && run.exitAfterCloseMs < 2_000, tokenCalls: run.lines.filter((l) => l === 'token call').length });
    expect({ dead: summary(dead).exitedWithin2s, hour: summary(hour), short: summary(short) }).toEqual({
      dead: true,
      hour: { exitedWithin2s: true, tokenCalls: 1 },
      short: { exitedWithin2s: true, tokenCalls: 1 },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await proxy.close();
    await server.close();
  }
});

test('subscribeSse over the connection limit (HTTP 503) waits for room, as the WebSocket client does, and then delivers', { timeout: 30_000 }, async ({ database }) => {
  const server = await startTestServer(database.url, { maxConnections: 1 });
  const hog = await TestWsClient.connect(server.url);
  const errors: RowcastClientError[] = [];
  const got: string[] = [];
  let opened = 0;
  const stop = subscribeSse<AnyTables>(server.url, 'posts', { EventSource, backoff: FAST, onSubscribed: () => (opened += 1), onError: (e) => errors.push(e) }, (c) => got.push(String(c.row.title)));
  try {
    // Refused at least once (the server counts it), then let in.
    await elapse(500, 'a few refused attempts');
    expect(opened).toBe(0);
    hog.close();
    await waitFor(() => opened === 1, { what: 'subscribeSse to get in once there is room' });
    await database.query("insert into posts (title) values ('after the wait')");
    await waitFor(() => got.length === 1, { what: 'the change' });
    expect({ errors, got }).toEqual({ errors: [], got: ['after the wait'] });
  } finally {
    stop();
    hog.close();
    await server.close();
  }
});
