/**
 * CONTRACT §4, §5, §7 — who gets in: JWTs three ways, every kind of bad token
 * refused with 401 before anything is served, pinned algorithms, token
 * expiry and refresh over the socket, and the Origin allow-list.
 */
import type { RowcastServer } from '../src/server.js';
import { describe, expect, startTestServer, test } from './support/fixtures.js';
import { bearer, connectAs, getJson, hmacToken, keyPair, nowSeconds, refusedUpgrade, SECRET, sseUntilEnd, unsignedToken, within } from './support/tokens.js';
import { TestWsClient } from './support/ws-client.js';

const it = test.extend<{ server: RowcastServer }>({
  server: async ({ database }, use) => {
    const server = await startTestServer(database.url, { jwt: { secret: SECRET } });
    await use(server);
    await server.close();
  },
});

const HTTP_ROUTES = ['/sse/posts', '/changes/posts', '/tables', '/stats'];

/** Every way a token can be wrong, against an HS256 server. */
async function badTokens(): Promise<Array<[string, string | null]>> {
  const t = nowSeconds();
  return [
    ['missing', null],
    ['forged (wrong secret)', await hmacToken({ sub: 'u1', role: 'admin' }, { secret: 'not-the-server-secret-not-the-server-secret' })],
    ['expired well past the tolerance', await hmacToken({ sub: 'u1', role: 'admin' }, { exp: t - 60 })],
    ['not yet valid (nbf)', await hmacToken({ sub: 'u1', role: 'admin' }, { nbf: t + 60 })],
    ['alg none', unsignedToken({ sub: 'u1', role: 'admin' })],
    ['HS512 with the right secret', await hmacToken({ sub: 'u1', role: 'admin' }, { alg: 'HS512' })],
    ['HS384 with the right secret', await hmacToken({ sub: 'u1', role: 'admin' }, { alg: 'HS384' })],
    ['not a JWT', 'not.a.jwt'],
  ];
}

/** Asserts a token is refused with 401 `unauthorized` on /ws (all three ways) and on every HTTP route. */
async function expectRefusedEverywhere(url: string, name: string, token: string | null): Promise<void> {
  const ways = token === null
    ? [{}, { protocols: ['rowcast.v1'] }]
    : [{ headers: bearer(token) }, { path: `/ws?token=${encodeURIComponent(token)}` }, { protocols: ['rowcast.v1', `bearer.${token}`] }];
  for (const way of ways) {
    const refusal = await refusedUpgrade(url, way);
    // §4 asks for the status only on a refused upgrade (the body is not specified there).
    expect(refusal.status, `${name}: /ws ${JSON.stringify(way).slice(0, 40)}`).toBe(401);
  }
  for (const route of HTTP_ROUTES) {
    const viaHeader = await getJson(`${url}${route}`, token === null ? {} : bearer(token));
    expect(viaHeader.status, `${name}: ${route}`).toBe(401);
    expect(viaHeader.json, `${name}: ${route}`).toMatchObject({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect(viaHeader.type).toMatch(/application\/json/);
    if (token !== null) {
      const viaQuery = await getJson(`${url}${route}?token=${encodeURIComponent(token)}`);
      expect(viaQuery.status, `${name}: ${route}?token=`).toBe(401);
    }
  }
}

describe('HS256', () => {
  it('a valid token is accepted from the header, ?token= and the bearer subprotocol (which selects rowcast.v1)', async ({ server, database }) => {
    const token = await hmacToken({ sub: 'u1', role: 'user' });
    const viaHeader = await connectAs(server.url, token);
    const viaQuery = await TestWsClient.connect(server.url, { path: `/ws?token=${token}` });
    const viaProtocol = await TestWsClient.connect(server.url, { protocols: ['rowcast.v1', `bearer.${token}`] });
    expect(viaProtocol.socket.protocol).toBe('rowcast.v1');
    const clients = [viaHeader, viaQuery, viaProtocol];
    for (const client of clients) await client.subscribe({ id: 'p', table: 'posts' });
    await database.query("insert into posts (author_id, title) values ('u9', 'hello')");
    for (const client of clients) expect((await client.waitForChanges(1, 'p'))[0]?.row.title).toBe('hello');
    for (const route of HTTP_ROUTES.filter((r) => !r.startsWith('/sse'))) {
      expect((await getJson(`${server.url}${route}`, bearer(token))).status, route).toBe(200);
      expect((await getJson(`${server.url}${route}?token=${token}`)).status, route).toBe(200);
      expect((await getJson(`${server.url}${route}`, { 'sec-websocket-protocol': `rowcast.v1, bearer.${token}` })).status, route).toBe(200);
    }
    for (const client of clients) client.close();
  });

  it('missing, forged, expired, not-yet-valid, alg none and other-algorithm tokens get 401 on /ws, /sse, /changes, /tables, /stats', async ({ server }) => {
    for (const [name, token] of await badTokens()) await expectRefusedEverywhere(server.url, name, token);
  });

  it('/health needs no token', async ({ server }) => {
    const health = await getJson(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ status: 'healthy' });
  });

  it('/metrics needs no token and exposes rowcast_connections', async ({ server }) => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/rowcast_connections\{transport="ws"\}/);
  });
});

describe('asymmetric keys: the configured algorithm only', () => {
  for (const alg of ['RS256', 'ES256'] as const) {
    test(`${alg} public key: ${alg} tokens accepted; HS256 signed with the public key, the other algorithm, another key and alg none refused`, async ({ database }) => {
      const pair = await keyPair(alg);
      const other = await keyPair(alg === 'RS256' ? 'ES256' : 'RS256');
      const stranger = await keyPair(alg);
      const server = await startTestServer(database.url, { jwt: { publicKey: pair.publicPem } });
      try {
        const good = await pair.sign({ sub: 'u1', role: 'staff' });
        const ws = await connectAs(server.url, good);
        await ws.subscribe({ id: 'o', table: 'orders' });
        const browser = await TestWsClient.connect(server.url, { protocols: ['rowcast.v1', `bearer.${good}`] });
        expect(browser.socket.protocol).toBe('rowcast.v1');
        expect((await getJson(`${server.url}/tables`, bearer(good))).status).toBe(200);
        const bad: Array<[string, string]> = [
          ['HS256 keyed with the public key PEM (algorithm confusion)', await hmacToken({ sub: 'u1', role: 'admin' }, { secret: pair.publicPem })],
          [`${other.alg} from another key`, await other.sign({ sub: 'u1', role: 'admin' })],
          [`${alg} from a stranger's key`, await stranger.sign({ sub: 'u1', role: 'admin' })],
          [`${alg} expired`, await pair.sign({ sub: 'u1', role: 'admin' }, { exp: nowSeconds() - 60 })],
          ['alg none', unsignedToken({ sub: 'u1', role: 'admin' })],
        ];
        for (const [name, token] of bad) await expectRefusedEverywhere(server.url, name, token);
        ws.close();
        browser.close();
      } finally {
        await server.close();
      }
    });
  }
});

describe('token expiry over the socket', () => {
  it('an expiring token closes the socket with 4401; one refreshed with `auth` survives and gets `authenticated` with the new exp', async ({ server, database }) => {
    const exp = nowSeconds() + 2;
    const short = await hmacToken({ sub: 'u1', role: 'user' }, { exp });
    const lapsing = await connectAs(server.url, short);
    const refreshed = await connectAs(server.url, short);
    await refreshed.subscribe({ id: 'p', table: 'posts' });
    const freshExp = nowSeconds() + 3600;
    refreshed.send({ type: 'auth', token: await hmacToken({ sub: 'u1', role: 'user' }, { exp: freshExp }) });
    const reply = await refreshed.waitFor((m) => m.type === 'authenticated');
    expect(reply).toEqual({ type: 'authenticated', exp: freshExp });

    // The server may honour its 5 s clock tolerance before closing; not longer.
    const closed = await within(lapsing.closed, (exp + 5) * 1000 - Date.now() + 3000, 'close 4401');
    expect(closed.code).toBe(4401);
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 1000);

    refreshed.send({ type: 'ping', timestamp: 7 });
    await refreshed.waitFor((m) => m.type === 'pong' && m.timestamp === 7);
    await database.query("insert into posts (title) values ('after the old exp')");
    expect((await refreshed.waitForChanges(1, 'p'))[0]?.row.title).toBe('after the old exp');
    expect(refreshed.socket.readyState).toBe(refreshed.socket.OPEN);
    refreshed.close();
  });

  it('an SSE stream does not outlive its token: it ends when the token expires', async ({ server, database }) => {
    const exp = nowSeconds() + 2;
    const res = await fetch(`${server.url}/sse/posts`, { headers: bearer(await hmacToken({ sub: 'u1', role: 'user' }, { exp })) });
    expect(res.status).toBe(200);
    const ended = sseUntilEnd(res);
    await database.query("insert into posts (title) values ('while valid')");
    // Allow the server's 5 s clock tolerance, and a little more.
    const { text } = await within(ended, (exp + 5) * 1000 - Date.now() + 2000, 'the SSE stream to end once its token expired');
    expect(text).toContain('while valid');
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 1000);
  });

  it('a token just past exp but within the 5 s clock tolerance is served until the tolerance ends, not dropped on arrival', async ({ server, database }) => {
    const exp = nowSeconds() - 1;
    const token = await hmacToken({ sub: 'u1', role: 'user' }, { exp });
    const ws = await connectAs(server.url, token);
    await ws.subscribe({ id: 'p', table: 'posts' });
    const stream = await fetch(`${server.url}/sse/posts`, { headers: bearer(token) });
    expect(stream.status).toBe(200);
    const ended = sseUntilEnd(stream);
    await database.query("insert into posts (title) values ('inside the tolerance')");
    expect((await ws.waitForChanges(1, 'p'))[0]?.row.title).toBe('inside the tolerance');

    const closed = await within(ws.closed, (exp + 5) * 1000 - Date.now() + 3000, 'close 4401');
    expect(closed.code).toBe(4401);
    const { text } = await within(ended, (exp + 5) * 1000 - Date.now() + 3000, 'the SSE stream to end');
    expect(text).toContain('inside the tolerance');
    expect(text).toContain('event: error');
    expect(Date.now()).toBeGreaterThanOrEqual((exp + 5) * 1000 - 1000);
  });

  it('auth messages sent back to back apply in the order sent: the replies follow it, and the last token is the one in force', async ({ server }) => {
    const start = nowSeconds();
    for (let round = 0; round < 5; round++) {
      const ws = await connectAs(server.url, await hmacToken({ sub: 'u1', role: 'admin' }));
      // Verifications finish in any order (HMAC runs on libuv's thread pool); the last token may not read orders.
      const tokens = await Promise.all(
        Array.from({ length: 20 }, (_, i) => hmacToken({ sub: 'u1', role: i === 19 ? 'user' : 'admin' }, { exp: start + 3600 + 20 * round + i })),
      );
      for (const token of tokens) ws.send({ type: 'auth', token });
      await ws.waitFor((m) => ws.messages.filter((x) => x.type === 'authenticated').length === 20 && m.type === 'authenticated');
      const exps = ws.messages.flatMap((m) => (m.type === 'authenticated' ? [m.exp] : []));
      expect(exps, `round ${round}`).toEqual(Array.from({ length: 20 }, (_, i) => start + 3600 + 20 * round + i));
      ws.send({ type: 'subscribe', id: 'o', table: 'orders' });
      expect(await ws.waitFor((m) => (m.type === 'error' && m.ref === 'o') || (m.type === 'subscribed' && m.id === 'o')), `round ${round}`).toMatchObject({
        type: 'error',
        code: 'forbidden',
      });
      ws.close();
    }
  });

  it('a forged, expired or unsigned token in `auth` closes with 4401; a malformed auth message does not', async ({ server }) => {
    const good = await hmacToken({ sub: 'u1', role: 'user' });
    const invalid = [
      await hmacToken({ sub: 'u1', role: 'admin' }, { secret: 'wrong-wrong-wrong-wrong-wrong-wrong-wrong' }),
      await hmacToken({ sub: 'u1', role: 'admin' }, { exp: nowSeconds() - 60 }),
      unsignedToken({ sub: 'u1', role: 'admin' }),
    ];
    for (const token of invalid) {
      const ws = await connectAs(server.url, good);
      ws.send({ type: 'auth', token });
      expect((await within(ws.closed, 10_000, 'close 4401')).code).toBe(4401);
    }
    const ws = await connectAs(server.url, good);
    ws.send({ type: 'auth' });
    await ws.waitFor((m) => m.type === 'error' && m.code === 'invalid_message');
    ws.send({ type: 'ping', timestamp: 1 });
    await ws.waitFor((m) => m.type === 'pong');
    ws.close();
  });
});

describe('Origin allow-list', () => {
  test('with auth on, a foreign Origin is refused with 403 on /ws and /sse; the allowed one and no Origin pass', async ({ database }) => {
    const server = await startTestServer(database.url, { jwt: { secret: SECRET }, allowedOrigins: ['https://app.example'] });
    try {
      const token = await hmacToken({ sub: 'u1', role: 'user' });
      for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'http://app.example', 'null']) {
        const refusal = await refusedUpgrade(server.url, { headers: { ...bearer(token), origin } });
        expect(refusal.status, origin).toBe(403);
        const sse = await getJson(`${server.url}/sse/posts`, { ...bearer(token), origin });
        expect(sse.status, origin).toBe(403);
        expect(sse.json).toMatchObject({ error: { code: 'forbidden' } });
      }
      // A foreign origin without a token is still a 401: no hint that the token was the only problem.
      expect((await refusedUpgrade(server.url, { headers: { origin: 'https://evil.example' } })).status).toBe(401);
      const allowed = await connectAs(server.url, token, { headers: { origin: 'https://app.example' } });
      const noOrigin = await connectAs(server.url, token);
      const controller = new AbortController();
      const stream = await fetch(`${server.url}/sse/posts`, { headers: { ...bearer(token), origin: 'https://app.example' }, signal: controller.signal });
      expect(stream.status).toBe(200);
      controller.abort();
      allowed.close();
      noOrigin.close();
    } finally {
      await server.close();
    }
  });

  test('in open dev mode any Origin is accepted', async ({ database }) => {
    const server = await startTestServer(database.url);
    try {
      const ws = await TestWsClient.connect(server.url, { headers: { origin: 'https://evil.example' } });
      await ws.subscribe({ id: 'o', table: 'orders' });
      const controller = new AbortController();
      const stream = await fetch(`${server.url}/sse/orders`, { headers: { origin: 'https://evil.example' }, signal: controller.signal });
      expect(stream.status).toBe(200);
      controller.abort();
      ws.close();
    } finally {
      await server.close();
    }
  });
});
