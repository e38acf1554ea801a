/**
 * Query strings of /sse/:table and /changes/:table (CONTRACT §5, §6):
 * reserved keys, and every other key a column filter. Validated with zod.
 */
import type { z } from 'zod';
import { RowcastError } from '../errors.js';
import { FilterSchema, RESERVED_QUERY_KEYS, type Filter } from '../protocol.js';

export function parseFeedQuery<S extends z.ZodType>(url: URL, schema: S): { query: z.infer<S>; filter?: Filter } {
  // Entries, not assignment: a column may be named "__proto__".
  const reserved: Array<[string, string]> = [];
  const filterEntries: Array<[string, string]> = [];
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    if (values.length > 1) throw new RowcastError('invalid_request', `query parameter ${key} is given more than once`);
    const value = values[0] as string;
    ((RESERVED_QUERY_KEYS as readonly string[]).includes(key) ? reserved : filterEntries).push([key, value]);
  }
  const query = schema.safeParse(Object.fromEntries(reserved));
  if (!query.success) {
    const issue = query.error.issues[0];
    throw new RowcastError('invalid_request', `${issue?.path.join('.') ?? 'query'}: ${issue?.message ?? 'invalid'}`);
  }
  if (filterEntries.length === 0) return { query: query.data };
  const parsed = FilterSchema.safeParse(Object.fromEntries(filterEntries));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RowcastError('invalid_request', `${issue?.path.join('.') ?? 'filter'}: ${issue?.message ?? 'invalid'}`);
  }
  return { query: query.data, filter: parsed.data };
}
