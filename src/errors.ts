import type { ErrorCode } from './protocol.js';

/**
 * The one error type of Rowcast: a contract error code for clients, a human
 * message, and the underlying cause for logs. Each transport maps it once
 * (WebSocket error frame, HTTP status + JSON body).
 */
export class RowcastError extends Error {
  override readonly name = 'RowcastError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_json: 400,
  invalid_message: 400,
  invalid_request: 400,
  unknown_table: 404,
  unauthorized: 401,
  forbidden: 403,
  rate_limited: 429,
  too_many_subscriptions: 429,
  too_many_connections: 503,
  cursor_expired: 410,
  unavailable: 503,
  internal_error: 500,
};

/** Socket errors of a connection to PostgreSQL that could not be made or was lost. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether a failure is PostgreSQL being out of reach (down, restarting, out of
 * connections), not the request: a client should retry later (503), it did
 * nothing wrong (400) and the server has no bug (500).
 */
function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code } = error as { code?: unknown };
  if (typeof code === 'string') {
    // SQLSTATE class 08: connection exception; 57P01-57P03: shutting down, crashed, starting up; 53300: too many connections.
    if (UNREACHABLE.has(code) || code.startsWith('08') || /^57P0[1-3]$/.test(code) || code === '53300') return true;
  }
  // node-postgres' own messages for a lost or never-made connection.
  return /^Connection terminated|^timeout exceeded when trying to connect|is not queryable/.test(error.message);
}

/** Any thrown value as a RowcastError; PostgreSQL out of reach becomes unavailable, any other failure internal_error. */
export function asRowcastError(error: unknown): RowcastError {
  if (error instanceof RowcastError) return error;
  if (isDatabaseUnavailable(error)) return new RowcastError('unavailable', 'the database is unavailable; try again shortly', { cause: error });
  return new RowcastError('internal_error', 'internal error', { cause: error });
}
