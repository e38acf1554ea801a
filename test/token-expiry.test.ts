/**
 * The deadline that ends a connection at its token's expiry. Timers are
 * faked: a token living longer than setTimeout's range (about 24.8 days) is
 * the case at stake, and no test can wait that long.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TokenExpiryTimer } from '../src/transports/token-expiry.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('TokenExpiryTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires at the deadline, not before', () => {
    const expired = vi.fn();
    new TokenExpiryTimer(expired).arm(Date.now() + 60_000);
    vi.advanceTimersByTime(59_999);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(expired).toHaveBeenCalledTimes(1);
  });

  it('waits out a token that lives longer than the longest timer', () => {
    const expired = vi.fn();
    new TokenExpiryTimer(expired).arm(Date.now() + 60 * DAY_MS);
    vi.advanceTimersByTime(2 ** 31 - 1);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(60 * DAY_MS - (2 ** 31 - 1) - 1);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(expired).toHaveBeenCalledTimes(1);
  });

  it('fires at once for a deadline already past', () => {
    const expired = vi.fn();
    new TokenExpiryTimer(expired).arm(Date.now() - 1000);
    vi.advanceTimersByTime(0);
    expect(expired).toHaveBeenCalledTimes(1);
  });

  it('a refresh moves the deadline; null and disarm cancel it', () => {
    const expired = vi.fn();
    const timer = new TokenExpiryTimer(expired);
    timer.arm(Date.now() + 1000);
    timer.arm(Date.now() + 5000);
    vi.advanceTimersByTime(4999);
    expect(expired).not.toHaveBeenCalled();
    timer.arm(null);
    vi.advanceTimersByTime(10 * DAY_MS);
    timer.arm(Date.now() + 1000);
    timer.disarm();
    vi.advanceTimersByTime(10 * DAY_MS);
    expect(expired).not.toHaveBeenCalled();
  });
});
