import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { HTTP_STATUS, type RowcastError } from '../errors.js';
import type { HttpErrorBody } from '../protocol.js';

/** The one mapping of a RowcastError to HTTP (CONTRACT §5): status + JSON body. */
export function httpError(c: Context, error: RowcastError): Response {
  const body: HttpErrorBody = { error: { code: error.code, message: error.message } };
  return c.json(body, HTTP_STATUS[error.code] as ContentfulStatusCode);
}
