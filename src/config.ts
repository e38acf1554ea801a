/**
 * Configuration, read once at the edge (CONTRACT §1). Every problem is
 * reported together, in one message, before anything starts.
 */
import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MAX_DURATION_MS = 36_500 * UNIT_MS.d;

const Duration = z.string().transform((text, ctx) => {
  const m = DURATION.exec(text.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration like 30s, 15m, 24h or 7d` });
    return z.NEVER;
  }
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  // Beyond a century the interval the prune asks PostgreSQL for overflows: history would never be pruned.
  if (ms > MAX_DURATION_MS) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is longer than the 36500d (100 years) it may be` });
    return z.NEVER;
  }
  return ms;
});

/** Digits only: z.coerce.number() would also read " " as 0 and take 1e3 or 0x10. */
const WholeNumber = z
  .string()
  .regex(/^\s*[0-9]+\s*$/, 'must be a whole number')
  .transform(Number);
const PositiveInt = WholeNumber.pipe(z.number().int().positive());

/** What the authenticator will import: an RSA (RS256) or EC (ES256) public key in PEM. */
const PublicKeyPem = z.string().superRefine((pem, ctx) => {
  try {
    const key = createPublicKey(pem);
    const type = key.asymmetricKeyType;
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (type !== 'rsa' && !(type === 'ec' && curve === 'prime256v1')) {
      ctx.addIssue({ code: 'custom', message: `is a ${type}${curve ? ` ${curve}` : ''} key; RS256 needs an RSA key, ES256 an EC P-256 key` });
    }
  } catch (cause) {
    ctx.addIssue({ code: 'custom', message: `is not a PEM public key (${(cause as Error).message})` });
  }
});

const DatabaseUrl = z
  .string()
  .refine((s) => /^postgres(ql)?:\/\//.test(s) && URL.canParse(s), {
    message: 'must be a postgres:// or postgresql:// URL',
  });

const EnvSchema = z.object({
  DATABASE_URL: DatabaseUrl.optional(),
  ROWCAST_LISTEN_URL: DatabaseUrl.optional(),
  PORT: WholeNumber.pipe(z.number().int().min(0).max(65535)).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  ROWCAST_JWT_SECRET: z.string().min(1).optional(),
  ROWCAST_JWT_PUBLIC_KEY: PublicKeyPem.optional(),
  ROWCAST_JWKS_URL: z.url().optional(),
  ROWCAST_ALLOWED_ORIGINS: z
    .string()
    .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean))
    .optional(),
  ROWCAST_MAX_CONNECTIONS: PositiveInt.default(10000),
  ROWCAST_MAX_MESSAGE_BYTES: PositiveInt.default(65536),
  ROWCAST_RATE_LIMIT: PositiveInt.default(50),
  ROWCAST_RETENTION: Duration.default(24 * 3_600_000),
  ROWCAST_MAX_BUFFER_BYTES: PositiveInt.default(8 * 1024 * 1024),
  ROWCAST_DATA_DIR: z.string().min(1).optional(),
  ROWCAST_EMBEDDED_PG_PORT: WholeNumber.pipe(z.number().int().min(1).max(65535)).default(54329),
  ROWCAST_WAKEUP: z.enum(['debounced', 'always']).default('debounced'),
  ROWCAST_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
}).superRefine((e, ctx) => {
  // One way of verifying tokens: with two, tokens of the one not used would be refused.
  const set = (['ROWCAST_JWT_SECRET', 'ROWCAST_JWT_PUBLIC_KEY', 'ROWCAST_JWKS_URL'] as const).filter((k) => e[k] !== undefined);
  if (set.length > 1) ctx.addIssue({ code: 'custom', path: [set[0]!], message: `is set with ${set.slice(1).join(' and ')}: set one of them` });
});

export interface Config {
  /** null: start the embedded PostgreSQL under dataDir. */
  databaseUrl: string | null;
  /** The LISTEN connection's own URL (it must not go through a transaction pooler); default databaseUrl. */
  listenUrl: string | null;
  port: number;
  host: string;
  jwt: { secret?: string; publicKey?: string; jwksUrl?: string };
  /** Browser origins allowed to open feeds; any origin in open dev mode. */
  allowedOrigins: string[];
  maxConnections: number;
  maxMessageBytes: number;
  rateLimit: number;
  retentionMs: number;
  maxBufferBytes: number;
  dataDir: string;
  embeddedPgPort: number;
  /** debounced: writers skip NOTIFY while a server is awake; always: every capturing transaction notifies. */
  wakeup: 'debounced' | 'always';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** WebSocket ping interval (CONTRACT §4: 30 s). */
  heartbeatMs: number;
  /** SSE keep-alive comment interval (CONTRACT §5: 15 s). */
  sseKeepAliveMs: number;
  /** How often the change log is read even without a NOTIFY (a safety net, not the path). */
  fallbackPollMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}

/**
 * The default data directory: the `.rowcast` of `cwd` or of its nearest
 * parent that has a database in one, as git finds `.git`. `npm start` runs
 * in the package root, so a CLI command from a subdirectory still finds it.
 */
function nearestDataDir(cwd: string): string {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.rowcast', 'pgdata', 'PG_VERSION'))) return join(dir, '.rowcast');
    if (dirname(dir) === dir) return join(resolve(cwd), '.rowcast');
  }
}

/** Reads the environment; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>, cwd = process.cwd()): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'} ${i.message}`));
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL ?? null,
    listenUrl: e.ROWCAST_LISTEN_URL ?? null,
    port: e.PORT,
    host: e.HOST,
    jwt: {
      ...(e.ROWCAST_JWT_SECRET ? { secret: e.ROWCAST_JWT_SECRET } : {}),
      ...(e.ROWCAST_JWT_PUBLIC_KEY ? { publicKey: e.ROWCAST_JWT_PUBLIC_KEY } : {}),
      ...(e.ROWCAST_JWKS_URL ? { jwksUrl: e.ROWCAST_JWKS_URL } : {}),
    },
    allowedOrigins: e.ROWCAST_ALLOWED_ORIGINS ?? [],
    maxConnections: e.ROWCAST_MAX_CONNECTIONS,
    maxMessageBytes: e.ROWCAST_MAX_MESSAGE_BYTES,
    rateLimit: e.ROWCAST_RATE_LIMIT,
    retentionMs: e.ROWCAST_RETENTION,
    maxBufferBytes: e.ROWCAST_MAX_BUFFER_BYTES,
    dataDir: e.ROWCAST_DATA_DIR ?? nearestDataDir(cwd),
    embeddedPgPort: e.ROWCAST_EMBEDDED_PG_PORT,
    wakeup: e.ROWCAST_WAKEUP,
    logLevel: e.ROWCAST_LOG_LEVEL,
    heartbeatMs: 30_000,
    sseKeepAliveMs: 15_000,
    fallbackPollMs: 5_000,
  };
}
