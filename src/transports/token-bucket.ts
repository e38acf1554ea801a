/**
 * Per-connection rate limit (ROWCAST_RATE_LIMIT): `rate` messages a second,
 * bursts of twice that. A client refused this many times in a row is flooding.
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  private refusedInARow = 0;

  constructor(
    private readonly rate: number,
    private readonly capacity = rate * 2,
  ) {
    this.tokens = capacity;
  }

  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.refusedInARow = 0;
      return true;
    }
    this.refusedInARow += 1;
    return false;
  }

  /** Refused more than a whole burst in a row: the caller closes the connection. */
  flooding(): boolean {
    return this.refusedInARow > this.capacity;
  }
}
