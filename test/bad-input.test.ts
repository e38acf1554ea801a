/**
 * CONTRACT §4 over a real WebSocket: every kind of bad client input gets an
 * error frame with the right code (and `ref` = the message id when there is
 * one), and the connection keeps working afterwards: each test ends by
 * subscribing and receiving a row inserted from SQL.
 */
import type { ServerMessage } from '../src/protocol.js';
import { describe, expect, startTestServer, test } from './support/fixtures.js';
import type { TestDatabase } from './support/database.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

type ErrorFrame = Extract<ServerMessage, { type: 'error' }>;

/** Sends one frame (a string or Buffer as is, anything else as JSON) and returns the next frame the server sends. */
async function reply(ws: TestWsClient, frame: unknown): Promise<ServerMessage> {
  const before = ws.messages.length;
  if (Buffer.isBuffer(frame)) ws.socket.send(frame, { binary: true });
  else ws.send(frame);
  await waitFor(() => ws.messages.length > before || ws.malformed.length > 0, { what: `a reply to ${String(frame).slice(0, 80)}` });
  expect(ws.malformed).toEqual([]);
  return ws.messages[before] as ServerMessage;
}

/** Expects exactly an error frame with this code and ref (undefined = no ref key at all). */
async function expectError(ws: TestWsClient, frame: unknown, code: string, ref?: string): Promise<void> {
  const got = await reply(ws, frame);
  const shown = typeof frame === 'string' ? frame : JSON.stringify(frame);
  expect({ frame: shown, type: got.type, code: (got as ErrorFrame).code }).toEqual({ frame: shown, type: 'error', code });
  const error = got as ErrorFrame;
  expect(error.message.length).toBeGreaterThan(0);
  if (ref === undefined) expect({ frame: shown, hasRef: 'ref' in error }).toEqual({ frame: shown, hasRef: false });
  else expect({ frame: shown, ref: error.ref }).toEqual({ frame: shown, ref });
}

let rows = 0;
/** Proves the connection still works: a fresh subscription receives a row inserted from SQL. */
async function expectAlive(ws: TestWsClient, database: TestDatabase, id = 'alive'): Promise<void> {
  expect(ws.socket.readyState).toBe(ws.socket.OPEN);
  // Not ws.subscribe(): it would match an earlier error frame for a reused id.
  const before = ws.messages.length;
  ws.send({ type: 'subscribe', id, table: 'posts' });
  const answer = await waitFor(() =>
    ws.messages.slice(before).find((m) => (m.type === 'subscribed' && m.id === id) || (m.type === 'error' && m.ref === id)),
  );
  expect(answer).toMatchObject({ type: 'subscribed', id, table: 'posts' });
  const title = `alive-${++rows}`;
  await database.query('insert into posts (title) values ($1)', [title]);
  await ws.waitFor((m) => m.type === 'change' && m.sub === id && m.row.title === title);
  expect(ws.malformed).toEqual([]);
}

describe('frames that are not messages', () => {
  test('invalid JSON → invalid_json without ref', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    for (const frame of ['{not json', '', '{"type":"ping"', "{'type':'ping'}", 'undefined', '{"type":"subscribe","id":"j1",}']) {
      await expectError(ws, frame, 'invalid_json');
    }
    await expectAlive(ws, database);
    ws.close();
  });

  test('valid JSON that is not an object → invalid_message', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    for (const frame of ['[]', '[{"type":"ping"}]', '42', '"subscribe"', 'null', 'true']) {
      await expectError(ws, frame, 'invalid_message');
    }
    await expectAlive(ws, database);
    ws.close();
  });

  test('a binary frame → invalid_message, and it is not acted on', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    await expectError(ws, Buffer.from('{"type":"ping"}'), 'invalid_message');
    await expectError(ws, Buffer.from(JSON.stringify({ type: 'subscribe', id: 'bin', table: 'posts' })), 'invalid_message');
    // The binary subscribe created nothing: the id is free and gets no changes.
    await expectAlive(ws, database);
    expect(ws.changes('bin')).toEqual([]);
    await expectAlive(ws, database, 'bin');
    ws.close();
  });
});

describe('messages with a bad shape → invalid_message', () => {
  test('unknown or missing type', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    await expectError(ws, { type: 'subscribe_all', id: 'u1', table: 'posts' }, 'invalid_message', 'u1');
    await expectError(ws, { id: 'u2', table: 'posts' }, 'invalid_message', 'u2');
    await expectError(ws, { type: 42, id: 'u3' }, 'invalid_message', 'u3');
    await expectError(ws, { type: 'SUBSCRIBE', id: 'u4', table: 'posts' }, 'invalid_message', 'u4');
    await expectError(ws, {}, 'invalid_message');
    await expectAlive(ws, database, 'u1');
    ws.close();
  });

  test('missing or malformed fields; ref only when the id is a string', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    await expectError(ws, { type: 'subscribe', table: 'posts' }, 'invalid_message');
    await expectError(ws, { type: 'subscribe', id: 7, table: 'posts' }, 'invalid_message');
    await expectError(ws, { type: 'subscribe', id: ['m0'], table: 'posts' }, 'invalid_message');
    // An empty id is refused, and still named: it is a string.
    await expectError(ws, { type: 'subscribe', id: '', table: 'posts' }, 'invalid_message', '');
    await expectError(ws, { type: 'subscribe', id: 'm1' }, 'invalid_message', 'm1');
    await expectError(ws, { type: 'subscribe', id: 'm2', table: '' }, 'invalid_message', 'm2');
    await expectError(ws, { type: 'subscribe', id: 'm3', table: ['posts'] }, 'invalid_message', 'm3');
    await expectError(ws, { type: 'unsubscribe' }, 'invalid_message');
    await expectError(ws, { type: 'unsubscribe', id: 5 }, 'invalid_message');
    await expectError(ws, { type: 'auth' }, 'invalid_message');
    await expectError(ws, { type: 'ping', timestamp: 'now' }, 'invalid_message');
    await expectAlive(ws, database, 'm1');
    ws.close();
  });

  test('bad ops: empty, unknown, repeated, not a list', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    await expectError(ws, { type: 'subscribe', id: 'o1', table: 'posts', ops: [] }, 'invalid_message', 'o1');
    await expectError(ws, { type: 'subscribe', id: 'o2', table: 'posts', ops: ['UPSERT'] }, 'invalid_message', 'o2');
    await expectError(ws, { type: 'subscribe', id: 'o3', table: 'posts', ops: ['INSERT', 'INSERT'] }, 'invalid_message', 'o3');
    await expectError(ws, { type: 'subscribe', id: 'o4', table: 'posts', ops: 'INSERT' }, 'invalid_message', 'o4');
    await expectError(ws, { type: 'subscribe', id: 'o5', table: 'posts', ops: ['INSERT', null] }, 'invalid_message', 'o5');
    await expectAlive(ws, database, 'o3');
    ws.close();
  });

  test('bad filters: unknown operator, unterminated in-list, unknown column, values not of the column type', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    const bad: Array<[string, string, Record<string, unknown> | string]> = [
      ['f1', 'orders', { status: 'like.pending' }],
      ['f2', 'orders', { customer_name: 'in.(Ada,Bob' }],
      ['f3', 'orders', { no_such_column: 'eq.1' }],
      ['f4', 'orders', { total: 'gt.abc' }],
      ['f5', 'notifications', { read: 'lt.' }],
      ['f6', 'orders', { created_at: 'gt.yesterday' }],
      ['f7', 'orders', { status: 'is.true' }],
      ['f8', 'orders', { status: 5 }],
      ['f9', 'orders', 'status=eq.pending'],
      ['f10', 'posts', { likes: 'in.(1,two)' }],
    ];
    for (const [id, table, filter] of bad) {
      await expectError(ws, { type: 'subscribe', id, table, filter }, 'invalid_message', id);
    }
    // f3/f4 were refused after parsing, while being set up: their ids must be free again.
    await expectAlive(ws, database, 'f3');
    await expectAlive(ws, database, 'f4');
    ws.close();
  });

  test('a filter on the column "__proto__" (there is none) is refused like any unknown column, not ignored', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    // Raw text: in a JS object literal __proto__ would set the prototype instead of a key.
    await expectError(ws, '{"type":"subscribe","id":"p1","table":"posts","filter":{"__proto__":"eq.1"}}', 'invalid_message', 'p1');
    await expectAlive(ws, database);
    ws.close();
  });

  test('since that is not a cursor', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    for (const [id, since] of [['c1', 'not-a-cursor'], ['c2', 'abc'], ['c3', '1_2_3'], ['c4', ''], ['c5', 123], ['c6', '-1_0'], ['c7', 'ZZ_0']] as const) {
      await expectError(ws, { type: 'subscribe', id, table: 'posts', since }, 'invalid_message', id);
    }
    await expectAlive(ws, database, 'c1');
    ws.close();
  });
});

describe('requests the server cannot honour', () => {
  test('unknown or unexposed table → unknown_table', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    const tables = ['nope', 'public.nope', 'rowcast.changes', 'rowcast.sequencer', 'pg_catalog.pg_class', 'information_schema.tables'];
    for (const [i, table] of tables.entries()) {
      await expectError(ws, { type: 'subscribe', id: `t${i}`, table }, 'unknown_table', `t${i}`);
    }
    await expectAlive(ws, database, 't0');
    ws.close();
  });

  test('a subscribe id already in use is refused and leaves the first subscription as it was', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    await ws.subscribe({ id: 'd', table: 'posts' });
    await expectError(ws, { type: 'subscribe', id: 'd', table: 'orders' }, 'invalid_message', 'd');
    // Two subscribes with one id in the same breath: exactly one wins.
    ws.send({ type: 'subscribe', id: 'r', table: 'posts' });
    ws.send({ type: 'subscribe', id: 'r', table: 'posts' });
    const about = (m: ServerMessage) => (m.type === 'subscribed' && m.id === 'r') || (m.type === 'error' && m.ref === 'r');
    await waitFor(() => ws.messages.filter(about).length >= 2, { what: 'two replies for id r' });
    expect(ws.messages.filter(about).map((m) => (m.type === 'error' ? `error ${m.code}` : m.type)).sort()).toEqual([
      'error invalid_message',
      'subscribed',
    ]);
    await database.query("insert into orders (order_number) values ('not for d')");
    await database.query("insert into posts (title) values ('for d and r')");
    await ws.waitForChanges(1, 'r');
    await ws.waitForChanges(1, 'd');
    await expectAlive(ws, database);
    await ws.waitForChanges(2, 'd');
    await ws.waitForChanges(2, 'r');
    // 'd' is still the posts subscription, once: never the refused orders one, never twice.
    expect(ws.changes('d').map((c) => `${c.table} ${String(c.row.title)}`)).toEqual(['posts for d and r', `posts alive-${rows}`]);
    expect(ws.changes('r')).toHaveLength(2);
    ws.close();
  });

  test('unsubscribe of an unknown id → invalid_message with ref', async ({ rowcast, database }) => {
    const ws = await TestWsClient.connect(rowcast.url);
    await expectError(ws, { type: 'unsubscribe', id: 'ghost' }, 'invalid_message', 'ghost');
    await ws.subscribe({ id: 'once', table: 'posts' });
    expect(await reply(ws, { type: 'unsubscribe', id: 'once' })).toEqual({ type: 'unsubscribed', id: 'once' });
    await expectError(ws, { type: 'unsubscribe', id: 'once' }, 'invalid_message', 'once');
    await expectAlive(ws, database, 'once');
    ws.close();
  });

  test('the 101st subscription on one connection → too_many_subscriptions', async ({ database }) => {
    // The rate limit (burst 100) is not what this test is about: lift it.
    const server = await startTestServer(database.url, { rateLimit: 10_000 });
    try {
      const ws = await TestWsClient.connect(server.url);
      for (let i = 0; i < 101; i++) ws.send({ type: 'subscribe', id: `s${i}`, table: 'posts' });
      const replies = await waitFor(
        () => {
          const r = ws.messages.filter((m) => m.type === 'subscribed' || m.type === 'error');
          return r.length >= 101 && r;
        },
        { what: '101 replies' },
      );
      expect(replies.filter((m) => m.type === 'subscribed')).toHaveLength(100);
      expect(replies.filter((m) => m.type === 'error')).toEqual([
        expect.objectContaining({ type: 'error', code: 'too_many_subscriptions', ref: 's100' }),
      ]);
      await expectError(ws, { type: 'subscribe', id: 'one-more', table: 'posts' }, 'too_many_subscriptions', 'one-more');
      // Still working, and there is room again after an unsubscribe.
      expect(await reply(ws, { type: 'unsubscribe', id: 's0' })).toEqual({ type: 'unsubscribed', id: 's0' });
      await expectAlive(ws, database, 'after-limit');
      expect(await ws.waitForChanges(1, 's99')).toHaveLength(1);
      ws.close();
    } finally {
      await server.close();
    }
  });
});

test('ping → pong echoing the timestamp', async ({ rowcast, database }) => {
  const ws = await TestWsClient.connect(rowcast.url);
  expect(await reply(ws, { type: 'ping', timestamp: 1640995200000 })).toEqual({ type: 'pong', timestamp: 1640995200000 });
  expect(await reply(ws, { type: 'ping', timestamp: 1.5 })).toEqual({ type: 'pong', timestamp: 1.5 });
  expect(await reply(ws, { type: 'ping' })).toEqual({ type: 'pong' });
  await expectAlive(ws, database);
  ws.close();
});
