/**
 * The wire protocol of Rowcast (CONTRACT §3–§6): zod schemas and TypeScript
 * types of every message, shared by the server and the client SDK.
 * This module imports nothing but zod, so it runs in browsers too.
 */
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;
export const WS_SUBPROTOCOL = 'rowcast.v1';
/** Subscriptions one WebSocket connection may hold; one more is `too_many_subscriptions`. */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 100;

export const OPS = ['INSERT', 'UPDATE', 'DELETE'] as const;
export const OpSchema = z.enum(OPS);
export type Op = z.infer<typeof OpSchema>;

/** Every error code a client can see, on any transport. */
export const ERROR_CODES = [
  'invalid_json',
  'invalid_message',
  'invalid_request',
  'unknown_table',
  'unauthorized',
  'forbidden',
  'rate_limited',
  'too_many_subscriptions',
  'too_many_connections',
  'cursor_expired',
  'unavailable',
  'internal_error',
] as const;
export const ErrorCodeSchema = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

// ---------------------------------------------------------------- filters

export const FILTER_OPERATORS = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'is'] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/** One parsed PostgREST-style condition such as `gt.100` or `in.(a,b)`. */
export type FilterCondition =
  | { op: 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte'; value: string }
  | { op: 'in'; values: string[] }
  | { op: 'is'; value: null | true | false };

const COMPARISON = /^(eq|neq|lt|lte|gt|gte)\.([\s\S]*)$/;
const IN_LIST = /^in\.\(([\s\S]*)\)$/;
const IS = /^is\.(null|true|false)$/;

/** Splits `a,"b,c",d` into its items; double quotes protect commas. */
function splitList(body: string): string[] | null {
  if (body === '') return [];
  const items: string[] = [];
  let i = 0;
  while (i <= body.length) {
    if (body[i] === '"') {
      const end = body.indexOf('"', i + 1);
      if (end < 0) return null;
      items.push(body.slice(i + 1, end));
      i = end + 1;
      if (i < body.length && body[i] !== ',') return null;
      i += 1;
    } else {
      const end = body.indexOf(',', i);
      const stop = end < 0 ? body.length : end;
      items.push(body.slice(i, stop));
      i = stop + 1;
    }
  }
  return items;
}

/** Parses one condition; null when it is not of the grammar of CONTRACT §4. */
export function parseFilterCondition(text: string): FilterCondition | null {
  const cmp = COMPARISON.exec(text);
  if (cmp) return { op: cmp[1] as 'eq', value: cmp[2] as string };
  const list = IN_LIST.exec(text);
  if (list) {
    const values = splitList(list[1] as string);
    return values ? { op: 'in', values } : null;
  }
  const is = IS.exec(text);
  if (is) return { op: 'is', value: is[1] === 'null' ? null : is[1] === 'true' };
  return null;
}

const MAX_FILTER_COLUMNS = 32;
const ColumnNameSchema = z.string().min(1).max(63);

/**
 * Column → condition. Built with Object.fromEntries, never by assignment: a
 * column may be named "__proto__", and assigning that key would drop it.
 */
export const FilterSchema = z
  .custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
    message: 'filter must be an object of column → condition',
  })
  .transform((raw, ctx) => {
    const entries = Object.entries(raw);
    if (entries.length > MAX_FILTER_COLUMNS) {
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_FILTER_COLUMNS} filtered columns` });
      return z.NEVER;
    }
    for (const [column, expr] of entries) {
      if (!ColumnNameSchema.safeParse(column).success) {
        ctx.addIssue({ code: 'custom', path: [column], message: 'column names are 1 to 63 characters' });
      } else if (typeof expr !== 'string' || expr.length > 4096 || !parseFilterCondition(expr)) {
        ctx.addIssue({
          code: 'custom',
          path: [column],
          message: `bad filter ${JSON.stringify(expr)}: expected eq., neq., lt., lte., gt., gte., in.(…) or is.null|true|false`,
        });
      }
    }
    return Object.fromEntries(entries) as Record<string, string>;
  });
export type Filter = z.infer<typeof FilterSchema>;

// ---------------------------------------------------------------- client → server

const MessageId = z.string().min(1).max(128);
const TableName = z.string().min(1).max(127);
const Cursor = z.string().min(1).max(256);

const OpsSchema = z
  .array(OpSchema)
  .min(1)
  .max(3)
  .refine((ops) => new Set(ops).size === ops.length, { message: 'ops must not repeat' });

export const SubscribeMessageSchema = z.object({
  type: z.literal('subscribe'),
  id: MessageId,
  table: TableName,
  ops: OpsSchema.optional(),
  filter: FilterSchema.optional(),
  since: Cursor.optional(),
});
export const UnsubscribeMessageSchema = z.object({ type: z.literal('unsubscribe'), id: MessageId });
export const PingMessageSchema = z.object({ type: z.literal('ping'), timestamp: z.number().optional() });
export const AuthMessageSchema = z.object({ type: z.literal('auth'), token: z.string().min(1).max(16384) });

export const ClientMessageSchema = z.discriminatedUnion('type', [
  SubscribeMessageSchema,
  UnsubscribeMessageSchema,
  PingMessageSchema,
  AuthMessageSchema,
]);
export type SubscribeMessage = z.infer<typeof SubscribeMessageSchema>;
export type UnsubscribeMessage = z.infer<typeof UnsubscribeMessageSchema>;
export type PingMessage = z.infer<typeof PingMessageSchema>;
export type AuthMessage = z.infer<typeof AuthMessageSchema>;
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

export type ParsedClientMessage =
  | { ok: true; message: ClientMessage }
  | { ok: false; code: 'invalid_json' | 'invalid_message'; message: string; ref?: string };

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** The id an error about a message names it by (`ref`): its `id`, when that is a string of reasonable length. */
function refOf(value: unknown): string | undefined {
  const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
  return typeof id === 'string' && id.length <= 128 ? id : undefined;
}

/** The `ref` of a frame refused unread (rate_limited): its id, if it is a JSON object with one. */
export function frameRef(data: unknown): string | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    return refOf(JSON.parse(data));
  } catch {
    return undefined;
  }
}

/** Validates one text frame from a client (CONTRACT §4 error rules). */
export function parseClientMessage(text: string): ParsedClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'invalid_json', message: 'frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'invalid_message', message: 'a message must be a JSON object' };
  }
  const ref = refOf(value);
  const parsed = ClientMessageSchema.safeParse(value);
  if (!parsed.success) {
    return { ok: false, code: 'invalid_message', message: describe(parsed.error), ...(ref === undefined ? {} : { ref }) };
  }
  return { ok: true, message: parsed.data };
}

// ---------------------------------------------------------------- server → client

export type Row = Record<string, unknown>;

/** A row as JSON.parse made it: z.record would copy it, and a column named `__proto__` set the copy's prototype instead. */
const RowSchema = z.custom<Row>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), 'a row is a JSON object');

export const ChangeEventSchema = z.object({
  id: z.string(),
  table: z.string(),
  schema: z.string(),
  op: OpSchema,
  row: RowSchema,
  old: RowSchema.nullable(),
  committed_at: z.string(),
});
/** The change event of CONTRACT §3, identical on every transport. */
export type ChangeEvent<R extends object = Row> = Omit<z.infer<typeof ChangeEventSchema>, 'row' | 'old'> & {
  row: R;
  old: R | null;
};

export const WelcomeMessageSchema = z.object({
  type: z.literal('welcome'),
  connection_id: z.string(),
  protocol: z.number(),
  heartbeat_ms: z.number(),
});
export const SubscribedMessageSchema = z.object({
  type: z.literal('subscribed'),
  id: z.string(),
  table: z.string(),
  cursor: z.string(),
});
export const UnsubscribedMessageSchema = z.object({ type: z.literal('unsubscribed'), id: z.string() });
export const ChangeMessageSchema = ChangeEventSchema.extend({ type: z.literal('change'), sub: z.string() });
/**
 * Where a subscription stands when no change has come for a while: sent at a
 * heartbeat once the feed moved a transaction past its last change, so a
 * client resuming from it stays inside retention. Resume from the newest of
 * this and the last change's id, exactly as from a change's id.
 */
export const CursorMessageSchema = z.object({ type: z.literal('cursor'), sub: z.string(), cursor: z.string() });
export const PongMessageSchema = z.object({ type: z.literal('pong'), timestamp: z.number().optional() });
export const AuthenticatedMessageSchema = z.object({ type: z.literal('authenticated'), exp: z.number().nullable() });
export const ErrorMessageSchema = z.object({
  type: z.literal('error'),
  code: ErrorCodeSchema,
  message: z.string(),
  ref: z.string().optional(),
});

export const ServerMessageSchema = z.discriminatedUnion('type', [
  WelcomeMessageSchema,
  SubscribedMessageSchema,
  UnsubscribedMessageSchema,
  ChangeMessageSchema,
  CursorMessageSchema,
  PongMessageSchema,
  AuthenticatedMessageSchema,
  ErrorMessageSchema,
]);
export type WelcomeMessage = z.infer<typeof WelcomeMessageSchema>;
export type SubscribedMessage = z.infer<typeof SubscribedMessageSchema>;
export type UnsubscribedMessage = z.infer<typeof UnsubscribedMessageSchema>;
export type ChangeMessage = z.infer<typeof ChangeMessageSchema>;
export type CursorMessage = z.infer<typeof CursorMessageSchema>;
export type PongMessage = z.infer<typeof PongMessageSchema>;
export type AuthenticatedMessage = z.infer<typeof AuthenticatedMessageSchema>;
export type ErrorMessage = z.infer<typeof ErrorMessageSchema>;
export type ServerMessage = z.infer<typeof ServerMessageSchema>;

/** WebSocket close codes of CONTRACT §4. */
export const CloseCode = {
  shuttingDown: 1001,
  policyViolation: 1008,
  messageTooBig: 1009,
  slowConsumer: 1013,
  unauthorized: 4401,
} as const;

// ---------------------------------------------------------------- HTTP

/** Body of every HTTP error (CONTRACT §5). */
export const HttpErrorBodySchema = z.object({
  error: z.object({ code: ErrorCodeSchema, message: z.string() }),
});
export type HttpErrorBody = z.infer<typeof HttpErrorBodySchema>;

/** Query keys with a meaning of their own; every other key is a column filter. */
export const RESERVED_QUERY_KEYS = ['ops', 'since', 'token', 'limit'] as const;

const OpsListSchema = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim().toUpperCase()))
  .pipe(OpsSchema);

export const SseQuerySchema = z.object({
  ops: OpsListSchema.optional(),
  since: Cursor.optional(),
  token: z.string().optional(),
});
/**
 * Data of an SSE `event: cursor`: where the stream stands when no change has
 * come for a while (also its `id:`), so a reconnect resumes there.
 */
export const SseCursorEventSchema = z.object({ cursor: z.string() });
export type SseCursorEvent = z.infer<typeof SseCursorEventSchema>;

export const ChangesQuerySchema = SseQuerySchema.extend({
  // Digits only: Number() would also take `1e3`, `0x10`, ` 2` and `2.0`.
  limit: z
    .string()
    .regex(/^[0-9]+$/, 'limit is a whole number of changes, 1 to 10000')
    .transform(Number)
    .pipe(z.number().int().min(1).max(10000))
    .optional()
    .transform((n) => n ?? 500),
});

export const ChangesResponseSchema = z.object({
  changes: z.array(ChangeEventSchema),
  cursor: z.string(),
});
export type ChangesResponse = z.infer<typeof ChangesResponseSchema>;

export const TableColumnSchema = z.object({ name: z.string(), type: z.string(), nullable: z.boolean() });
export const TableInfoSchema = z.object({
  schema: z.string(),
  name: z.string(),
  primary_key: z.array(z.string()),
  columns: z.array(TableColumnSchema),
  read_rule: z.enum(['authenticated', 'roles', 'owner']),
});
export type TableColumn = z.infer<typeof TableColumnSchema>;
export type TableInfo = z.infer<typeof TableInfoSchema>;
