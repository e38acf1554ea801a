/**
 * Deployment-facing configuration: a JWKS endpoint for tokens (CONTRACT §1),
 * and the start-up refusal when LISTEN cannot hear NOTIFY (a transaction
 * pooler in the way), simulated by listening on another database.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { inject } from 'vitest';
import { createTestDatabase } from './support/database.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { runCli } from './support/server-process.js';
import { waitFor } from './support/wait.js';
import { TestWsClient } from './support/ws-client.js';

/** A JWKS endpoint serving `jwks` as it is at each request (a test may add keys to it). */
async function serveJwks(jwks: { keys: unknown[] }): Promise<{ url: string; server: Server; hits: () => number }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`, server, hits: () => hits };
}

test('ROWCAST_JWKS_URL: tokens signed by a key of the set are accepted, others refused; the set is fetched once and cached', async ({ database }) => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const jwks = await serveJwks({ keys: [jwk] });
  const server = await startTestServer(database.url, { jwt: { jwksUrl: jwks.url } });
  try {
    const sign = (key: CryptoKey) =>
      new SignJWT({ sub: 'u1', role: 'staff' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setExpirationTime('1h').sign(key);
    const good = await sign(privateKey);
    const forged = await sign(other.privateKey);

    const ws = await TestWsClient.connect(server.url, { headers: { authorization: `Bearer ${good}` } });
    await ws.subscribe({ id: 'o', table: 'orders' });
    await database.query("insert into orders (order_number) values ('J-1')");
    expect((await ws.waitForChanges(1, 'o'))[0]?.row.order_number).toBe('J-1');
    ws.close();

    await expect(TestWsClient.connect(server.url, { headers: { authorization: `Bearer ${forged}` } })).rejects.toThrow('HTTP 401');
    expect((await fetch(`${server.url}/tables?token=${good}`)).status).toBe(200);
    expect((await fetch(`${server.url}/tables?token=${good}`)).status).toBe(200);
    expect(jwks.hits()).toBe(1);
  } finally {
    await server.close();
    jwks.server.close();
  }
});

test('ROWCAST_JWKS_URL: a key added to the set (a rotation) is accepted within seconds, over HTTP and in a WebSocket auth; a token without kid is tried against each key of its kind', async ({ database }) => {
  const first = await generateKeyPair('RS256');
  const second = await generateKeyPair('RS256');
  const set = { keys: [{ ...(await exportJWK(first.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] };
  const jwks = await serveJwks(set);
  const server = await startTestServer(database.url, { jwt: { jwksUrl: jwks.url } });
  const sign = (key: CryptoKey, kid?: string) =>
    new SignJWT({ sub: 'u1', role: 'staff' }).setProtectedHeader({ alg: 'RS256', ...(kid ? { kid } : {}) }).setExpirationTime('1h').sign(key);
  const status = async (token: string) => (await fetch(`${server.url}/tables?token=${token}`)).status;
  try {
    const ws = await TestWsClient.connect(server.url, { headers: { authorization: `Bearer ${await sign(first.privateKey, 'k1')}` } });
    set.keys.push({ ...(await exportJWK(second.publicKey)), kid: 'k2', alg: 'RS256', use: 'sig' });
    const rotated = await sign(second.privateKey, 'k2');
    await waitFor(async () => (await status(rotated)) === 200, { timeoutMs: 5_000, intervalMs: 250, what: 'the k2 token accepted' });
    ws.send({ type: 'auth', token: rotated });
    await ws.waitFor((m) => m.type === 'authenticated');
    // Two RSA keys in the set and no kid: the signature tells which.
    expect([await status(await sign(first.privateKey)), await status(await sign(second.privateKey))]).toEqual([200, 200]);
    expect(await status(await sign((await generateKeyPair('RS256')).privateKey))).toBe(401);
    ws.close();
  } finally {
    await server.close();
    jwks.server.close();
  }
});

test('a LISTEN connection that hears no NOTIFY is refused at start with one clear line (exit 2)', async ({ database }) => {
  const elsewhere = await createTestDatabase(inject('adminDatabaseUrl'));
  try {
    const result = await runCli(['serve'], { DATABASE_URL: database.url, ROWCAST_LISTEN_URL: elsewhere.database.url, PORT: '0' });
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^rowcast: the LISTEN connection heard no NOTIFY .*ROWCAST_LISTEN_URL/);
  } finally {
    await elsewhere.drop();
  }
});
