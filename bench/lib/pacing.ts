/**
 * "As fast as delivered": the writer issues its next statement as soon as the
 * slowest subscriber has received everything so far. The server then idles
 * only for one commit and wake-up per statement (ms, where delivering a
 * statement takes seconds), its buffers stay bounded, and latency is the time
 * a statement takes to reach everyone rather than queueing behind earlier
 * ones. Rowcast and the raw broadcast control are paced by the same loop, so
 * their throughputs compare.
 */
import type { Fleet } from './fleet.js';

export interface PacedRun {
  statements: number;
  /** From the first statement until the slowest subscriber had everything. */
  elapsedMs: number;
  /** False if the subscribers did not catch up within `stallMs`. */
  drained: boolean;
}

export interface PacingOptions {
  fleet: Fleet;
  /** Changes each subscriber receives per statement. */
  perStatement: number;
  durationMs: number;
  maxStatements: number;
  /** Longest wait for one statement to be delivered. */
  stallMs: number;
  issue: () => Promise<void>;
}

export async function paced(o: PacingOptions): Promise<PacedRun> {
  const t0 = performance.now();
  let statements = 0;
  let drained = true;
  while (drained && performance.now() - t0 < o.durationMs && statements < o.maxStatements) {
    await o.issue();
    statements += 1;
    drained = await o.fleet.waitForMin(statements * o.perStatement, o.stallMs);
  }
  return { statements, elapsedMs: performance.now() - t0, drained };
}
