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

/** Any thrown value as a RowcastError; unknown failures become internal_error. */
export function asRowcastError(error: unknown): RowcastError {
  if (error instanceof RowcastError) return error;
  return new RowcastError('internal_error', 'internal error', { cause: error });
}
