/** `rowcast check-config`: the effective configuration, by variable, with secrets hidden. */
import type { Config } from '../config.js';

const SECRET_PARAMS = ['password', 'sslpassword'];
const UNITS: Array<[string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** A connection string without its password (in the user info or the query). */
export function redactUrl(text: string): string {
  const url = new URL(text);
  if (url.password) url.password = '***';
  for (const key of SECRET_PARAMS) if (url.searchParams.has(key)) url.searchParams.set(key, '***');
  return url.toString();
}

function formatDuration(ms: number): string {
  const unit = UNITS.find(([, size]) => ms % size === 0);
  return unit ? `${ms / unit[1]}${unit[0]}` : `${ms}ms`;
}

function authMode(config: Config): string {
  const { secret, publicKey, jwksUrl } = config.jwt;
  const ways = [secret && 'HS256 secret', publicKey && 'public key', jwksUrl && 'JWKS'].filter(Boolean);
  return ways.length > 0 ? `JWT required (${ways.join(', ')})` : 'open dev mode: no JWT configured, every client is admin';
}

/** [variable, effective value] pairs in CONTRACT §1 order, then what they amount to. */
export function describeConfig(config: Config): Array<[string, string]> {
  const unset = '(unset)';
  return [
    [
      'DATABASE_URL',
      config.databaseUrl
        ? redactUrl(config.databaseUrl)
        : `(unset: embedded PostgreSQL in ${config.dataDir} on port ${config.embeddedPgPort})`,
    ],
    ['PORT', String(config.port)],
    ['HOST', config.host],
    ['ROWCAST_JWT_SECRET', config.jwt.secret ? '(set, hidden)' : unset],
    ['ROWCAST_JWT_PUBLIC_KEY', config.jwt.publicKey ? '(set)' : unset],
    ['ROWCAST_JWKS_URL', config.jwt.jwksUrl ? redactUrl(config.jwt.jwksUrl) : unset],
    ['ROWCAST_MAX_CONNECTIONS', String(config.maxConnections)],
    ['ROWCAST_MAX_MESSAGE_BYTES', String(config.maxMessageBytes)],
    ['ROWCAST_RATE_LIMIT', String(config.rateLimit)],
    ['ROWCAST_RETENTION', formatDuration(config.retentionMs)],
    ['ROWCAST_MAX_BUFFER_BYTES', String(config.maxBufferBytes)],
    ['ROWCAST_DATA_DIR', config.dataDir],
    ['ROWCAST_EMBEDDED_PG_PORT', String(config.embeddedPgPort)],
    ['ROWCAST_LOG_LEVEL', config.logLevel],
    ['authentication', authMode(config)],
  ];
}

export function formatConfig(config: Config): string {
  const rows = describeConfig(config);
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}\n`).join('');
}
