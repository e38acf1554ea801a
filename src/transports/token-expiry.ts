/**
 * A connection does not outlive its token (CONTRACT §6): past `exp` and the
 * clock tolerance, both transports end it. One deadline per connection; a
 * refreshed token moves it.
 */

/** setTimeout fires at once for a delay above this (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class TokenExpiryTimer {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly expired: () => void) {}

  /** Replaces the deadline with `endsAtMs` (epoch ms); null means the token never expires. */
  arm(endsAtMs: number | null): void {
    this.disarm();
    if (endsAtMs === null) return;
    const ms = endsAtMs - Date.now();
    // A deadline beyond the longest timer is approached in steps, not cut short.
    this.timer = setTimeout(() => (ms > MAX_TIMER_MS ? this.arm(endsAtMs) : this.expired()), Math.min(Math.max(0, ms), MAX_TIMER_MS));
    this.timer.unref();
  }

  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
