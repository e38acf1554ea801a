/**
 * Tokens for the client: a fixed string, or a function asked for a fresh one
 * before each connection and again shortly before the current one expires.
 */

export type TokenSource = string | (() => string | Promise<string>);

/** Refresh this long before `exp` at most; sooner for short-lived tokens (see refreshDelay). */
const REFRESH_MARGIN_MS = 30_000;
/** setTimeout's ceiling. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export async function resolveToken(source: TokenSource | undefined): Promise<string | null> {
  if (source === undefined) return null;
  const token = typeof source === 'function' ? await source() : source;
  return token === '' ? null : token;
}

export function canRefresh(source: TokenSource | undefined): boolean {
  return typeof source === 'function';
}

function decodeBase64Url(text: string): string {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/**
 * The `exp` claim (seconds since the epoch) of a JWT, read without verifying it:
 * the client only needs to know when to ask for a new one. null when absent or unreadable.
 */
export function tokenExpiry(token: string): number | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const exp = (JSON.parse(decodeBase64Url(payload)) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : null;
  } catch {
    return null;
  }
}

/**
 * Milliseconds from `nowMs` until the token should be refreshed: 30 s before
 * it expires, or at 80 % of its remaining life when that is shorter.
 */
function refreshDelay(expSeconds: number, nowMs: number): number {
  const remaining = expSeconds * 1000 - nowMs;
  return Math.max(0, remaining - Math.min(REFRESH_MARGIN_MS, remaining / 5));
}

/** Calls `refresh` shortly before the current token expires. */
class TokenRefreshTimer {
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly refresh: () => void) {}

  /**
   * Re-arms for a token expiring at `exp` (seconds since the epoch); null
   * disarms. `atLeastMs` spaces out asking again for a token function that
   * still returns the same token, whose refresh delay would shrink to 0.
   */
  arm(exp: number | null, atLeastMs = 0): void {
    this.disarm();
    if (exp !== null) this.timer = setTimeout(this.refresh, Math.min(Math.max(refreshDelay(exp, Date.now()), atLeastMs), MAX_TIMER_MS));
  }

  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** How soon a token function that returned the token in use again is asked again. */
const SAME_TOKEN_RETRY_MS = 1000;

/**
 * Keeps a connection's token fresh: asks the token function shortly before
 * `exp` and hands a new token to `use` (an `auth` frame). A function still
 * returning the token in use is asked again a second later, not in a loop
 * as that token runs out.
 */
export class TokenRefresher {
  private readonly timer = new TokenRefreshTimer(() => void this.refresh());
  /** Bumped by disarm(): an answer for an earlier connection is dropped. */
  private generation = 0;
  /** The token the connection uses now. */
  current: string | null = null;

  constructor(
    private readonly source: TokenSource | undefined,
    private readonly use: (token: string) => void,
    private readonly failed: (error: unknown) => void,
  ) {}

  /** Refreshes before `exp` (seconds since the epoch) when the source is a function; null: never. */
  arm(exp: number | null): void {
    this.timer.arm(canRefresh(this.source) ? exp : null);
  }

  disarm(): void {
    this.generation += 1;
    this.timer.disarm();
  }

  private async refresh(): Promise<void> {
    const generation = this.generation;
    try {
      const token = await resolveToken(this.source);
      if (token === null || generation !== this.generation) return;
      if (token === this.current) {
        this.timer.arm(tokenExpiry(token), SAME_TOKEN_RETRY_MS);
        return;
      }
      this.current = token;
      this.use(token);
    } catch (error) {
      this.failed(error);
    }
  }
}
