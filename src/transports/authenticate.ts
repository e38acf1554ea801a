/**
 * Authentication at the edge (CONTRACT §4, §7): a JWT from the Authorization
 * header, the `token` query parameter, or a `bearer.<jwt>` WebSocket
 * subprotocol, verified with jose against one pinned algorithm family.
 */
import { createPublicKey } from 'node:crypto';
import { createRemoteJWKSet, errors, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import type { Config } from '../config.js';
import { RowcastError } from '../errors.js';
import { DEV_PRINCIPAL, type Principal } from '../hub/authorization.js';
import { WS_SUBPROTOCOL } from '../protocol.js';

export interface Authenticator {
  /** No JWT configured: everyone is admin. */
  readonly devMode: boolean;
  authenticate(token: string | null): Promise<Principal>;
}

const CLOCK_TOLERANCE_S = 5;
/** A token naming a key the set does not hold yet (a rotation) refetches the set, at most this often. */
const JWKS_REFETCH_MS = 1000;

function principalOf(payload: JWTPayload): Principal {
  const role = (payload as { role?: unknown }).role;
  return {
    sub: typeof payload.sub === 'string' ? payload.sub : null,
    role: typeof role === 'string' ? role : null,
    exp: typeof payload.exp === 'number' ? payload.exp : null,
    endsAtMs: typeof payload.exp === 'number' ? (payload.exp + CLOCK_TOLERANCE_S) * 1000 : null,
  };
}

export async function createAuthenticator(jwt: Config['jwt']): Promise<Authenticator> {
  let verify: ((token: string) => Promise<JWTPayload>) | null = null;
  if (jwt.secret) {
    const key = new TextEncoder().encode(jwt.secret);
    verify = async (token) =>
      (await jwtVerify(token, key, { algorithms: ['HS256'], clockTolerance: CLOCK_TOLERANCE_S })).payload;
  } else if (jwt.publicKey) {
    const alg = createPublicKey(jwt.publicKey).asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
    const key = await importSPKI(jwt.publicKey, alg);
    verify = async (token) =>
      (await jwtVerify(token, key, { algorithms: [alg], clockTolerance: CLOCK_TOLERANCE_S })).payload;
  } else if (jwt.jwksUrl) {
    const jwks = createRemoteJWKSet(new URL(jwt.jwksUrl), { cooldownDuration: JWKS_REFETCH_MS });
    const options: JWTVerifyOptions = { algorithms: ['RS256', 'ES256'], clockTolerance: CLOCK_TOLERANCE_S };
    verify = async (token) => {
      try {
        return (await jwtVerify(token, jwks, options)).payload;
      } catch (error) {
        // A token without `kid` that several keys of the set could have signed: jose hands them over, each is tried.
        if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
        for await (const key of error) {
          try {
            return (await jwtVerify(token, key, options)).payload;
          } catch (attempt) {
            if (!(attempt instanceof errors.JWSSignatureVerificationFailed)) throw attempt;
          }
        }
        throw error;
      }
    };
  }
  if (!verify) {
    return { devMode: true, authenticate: async () => DEV_PRINCIPAL };
  }
  const check = verify;
  return {
    devMode: false,
    async authenticate(token) {
      if (!token) throw new RowcastError('unauthorized', 'a bearer token is required');
      try {
        return principalOf(await check(token));
      } catch (cause) {
        throw new RowcastError('unauthorized', 'the token is invalid or expired', { cause });
      }
    },
  };
}

/** The token of a request, from whichever of the three places holds it. */
export function tokenOf(headers: Headers, url: URL): string | null {
  const authorization = headers.get('authorization');
  if (authorization?.toLowerCase().startsWith('bearer ')) return authorization.slice(7).trim();
  const query = url.searchParams.get('token');
  if (query) return query;
  return bearerSubprotocol(headers.get('sec-websocket-protocol'));
}

/** Browsers cannot set headers on a WebSocket: `rowcast.v1, bearer.<jwt>`. */
export function bearerSubprotocol(header: string | null): string | null {
  if (!header) return null;
  const offered = header.split(',').map((p) => p.trim());
  if (!offered.includes(WS_SUBPROTOCOL)) return null;
  const bearer = offered.find((p) => p.startsWith('bearer.'));
  return bearer ? bearer.slice('bearer.'.length) : null;
}
