/**
 * Latency histogram with logarithmic buckets (2 % wide): millions of samples
 * fit in a few hundred counters, which client processes can send over IPC.
 */
const GROWTH = 1.02;
/** Resolution near zero: latencies below 0.1 ms share the first buckets. */
const UNIT_MS = 0.1;
const LOG_GROWTH = Math.log(GROWTH);

function bucketOf(ms: number): number {
  return ms <= 0 ? 0 : Math.floor(Math.log1p(ms / UNIT_MS) / LOG_GROWTH);
}

function upperEdge(bucket: number): number {
  return UNIT_MS * Math.expm1((bucket + 1) * LOG_GROWTH);
}

export interface HistogramData {
  counts: Record<number, number>;
  count: number;
  max: number;
  min: number;
  sum: number;
}

export class Histogram {
  private counts = new Map<number, number>();
  count = 0;
  max = 0;
  min = Number.POSITIVE_INFINITY;
  sum = 0;

  record(ms: number): void {
    const b = bucketOf(ms);
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.count += 1;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (ms < this.min) this.min = ms;
  }

  merge(data: HistogramData): void {
    for (const [k, n] of Object.entries(data.counts)) {
      const b = Number(k);
      this.counts.set(b, (this.counts.get(b) ?? 0) + n);
    }
    this.count += data.count;
    this.sum += data.sum;
    this.max = Math.max(this.max, data.max);
    this.min = Math.min(this.min, data.min);
  }

  /** The upper edge of the bucket holding quantile q (0..1), capped by the true max. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((x, y) => x - y)) {
      seen += this.counts.get(b) ?? 0;
      if (seen >= rank) return Math.min(upperEdge(b), this.max);
    }
    return this.max;
  }

  summary(): { p50: number; p90: number; p99: number; max: number; n: number } {
    return { p50: this.quantile(0.5), p90: this.quantile(0.9), p99: this.quantile(0.99), max: this.count ? this.max : NaN, n: this.count };
  }

  toJSON(): HistogramData {
    return { counts: Object.fromEntries(this.counts), count: this.count, max: this.max, min: this.min, sum: this.sum };
  }
}
