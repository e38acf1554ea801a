/**
 * Test tokens signed with jose (and a hand-made `alg: none` one), plus helpers
 * to see what the server answers a refused WebSocket upgrade or HTTP request.
 */
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import WebSocket from 'ws';
import { TestWsClient } from './ws-client.js';

export const SECRET = 'rowcast-test-secret-that-is-long-enough-for-hs256';

/** Claims as a token carries them; `role` may be anything, to try malformed ones. */
export interface Claims {
  sub?: string;
  role?: unknown;
  [claim: string]: unknown;
}

export interface SignOptions {
  /** Seconds since the epoch; default one hour ahead. `null`: no exp claim. */
  exp?: number | null;
  nbf?: number;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

async function signWith(claims: Claims, alg: string, key: CryptoKey | Uint8Array, options: SignOptions = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).setIssuedAt();
  const exp = options.exp === undefined ? nowSeconds() + 3600 : options.exp;
  if (exp !== null) jwt.setExpirationTime(exp);
  if (options.nbf !== undefined) jwt.setNotBefore(options.nbf);
  return jwt.sign(key);
}

/** HMAC token; `alg` HS256 unless told (HS384/HS512 are "another algorithm"). */
export function hmacToken(claims: Claims, options: SignOptions & { secret?: string | Uint8Array; alg?: string } = {}): Promise<string> {
  const secret = options.secret ?? SECRET;
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  return signWith(claims, options.alg ?? 'HS256', key, options);
}

/** `{"alg":"none"}` with an empty signature: jose refuses to make one, so by hand. */
export function unsignedToken(claims: Claims): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ exp: nowSeconds() + 3600, ...claims })}.`;
}

export interface KeyPair {
  alg: 'RS256' | 'ES256';
  publicPem: string;
  sign(claims: Claims, options?: SignOptions): Promise<string>;
}

export async function keyPair(alg: 'RS256' | 'ES256'): Promise<KeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, publicPem: await exportSPKI(publicKey), sign: (claims, options) => signWith(claims, alg, privateKey, options) };
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** Connects with a bearer header and waits for the welcome frame. */
export function connectAs(baseUrl: string, token: string, options: { path?: string; headers?: Record<string, string> } = {}): Promise<TestWsClient> {
  return TestWsClient.connect(baseUrl, { ...options, headers: { ...bearer(token), ...options.headers } });
}

/** A WebSocket client built with raw ws options (e.g. autoPong: false); waits for the welcome frame. */
export async function connectRaw(baseUrl: string, options: WebSocket.ClientOptions, path = '/ws'): Promise<TestWsClient> {
  const client = new TestWsClient(new WebSocket(baseUrl.replace(/^http/, 'ws') + path, [], options));
  await client.waitFor((m) => m.type === 'welcome');
  return client;
}

export interface Refusal {
  status: number;
  body: string;
  json: unknown;
}

/**
 * Attempts a WebSocket upgrade that must be refused: resolves with the HTTP
 * status and body, rejects if the server accepted the upgrade.
 */
export function refusedUpgrade(baseUrl: string, options: { path?: string; headers?: Record<string, string>; protocols?: string[] } = {}): Promise<Refusal> {
  const url = baseUrl.replace(/^http/, 'ws') + (options.path ?? '/ws');
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options.protocols ?? [], { headers: options.headers ?? {} });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('no answer to the upgrade within 10 s'));
    }, 10_000);
    socket.once('open', () => {
      clearTimeout(timer);
      socket.close();
      reject(new Error(`the upgrade was accepted (protocol ${JSON.stringify(socket.protocol)})`));
    });
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        clearTimeout(timer);
        let json: unknown = null;
        try {
          json = JSON.parse(body);
        } catch {
          // not JSON: the test says whether that matters
        }
        resolve({ status: res.statusCode ?? 0, body, json });
      });
    });
    socket.once('error', (error) => {
      // 'unexpected-response' handles HTTP refusals; anything else is a failure.
      if (!String(error.message).startsWith('Unexpected server response')) {
        clearTimeout(timer);
        reject(error);
      }
    });
  });
}

/** GET with headers; the status and the parsed JSON body (null if not JSON). */
export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any; type: string | null }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, type: res.headers.get('content-type') };
}

/** Every error frame of a client, as `code ref` strings, e.g. "forbidden s1". */
export function errorsOf(client: TestWsClient): string[] {
  return client.messages.flatMap((m) => (m.type === 'error' ? [`${m.code} ${m.ref ?? ''}`.trim()] : []));
}

/** Resolves with the promise, or fails after `ms` naming what it waited for. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads an SSE response until it ends: cleanly (`end`) or cut off (`error`), with everything it carried. */
export async function sseUntilEnd(res: Response): Promise<{ how: 'end' | 'error'; text: string }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (let chunks = 0; chunks < 1_000_000; chunks++) {
    try {
      const { done, value } = await reader.read();
      if (done) return { how: 'end', text };
      text += decoder.decode(value, { stream: true });
    } catch {
      return { how: 'error', text };
    }
  }
  throw new Error('the SSE stream never ended');
}
