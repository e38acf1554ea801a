/**
 * A fleet of subscriber processes seen as one: subscribers are split across
 * a few processes (one Node process cannot both hold thousands of sockets and
 * keep up with their frames), their progress is merged, and the bench paces
 * its writers on the slowest subscriber.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { Histogram } from './histogram.js';
import { isReady, isReport, type Progress, type SubscriberReport, type SubscriberSpec, type ToSubscriber } from './messages.js';
import { forkScript, nextMessage, stopChild } from './processes.js';

const READY_TIMEOUT_MS = 120_000;
const REPORT_TIMEOUT_MS = 30_000;

export interface FleetReport {
  subscribers: number;
  total: number;
  losses: number;
  extras: number;
  latency: Histogram;
  closes: Record<string, number>;
  errors: number;
  lastReceiveAt: number;
}

export class Fleet {
  private readonly progress: Progress[];
  private readonly changed = new EventEmitter();
  /** Slowest process's first-open-to-all-subscribed time. */
  openMs = 0;

  private constructor(private readonly children: ChildProcess[]) {
    this.progress = children.map(() => ({ type: 'progress', min: 0, total: 0 }));
    this.changed.setMaxListeners(0);
    children.forEach((child, i) =>
      child.on('message', (m: any) => {
        if (m?.type !== 'progress') return;
        this.progress[i] = m as Progress;
        this.changed.emit('progress');
      }),
    );
  }

  /** Starts `processes` subscriber processes sharing `spec.count` subscribers; fails if any subscriber could not subscribe. */
  static async start(spec: SubscriberSpec, processes: number): Promise<Fleet> {
    const n = Math.max(1, Math.min(processes, spec.count));
    const children = Array.from({ length: n }, () => forkScript('clients/subscribers.ts'));
    const fleet = new Fleet(children);
    try {
      const readies = await Promise.all(
        children.map((child, i) => {
          const from = Math.floor((spec.count * i) / n);
          const to = Math.floor((spec.count * (i + 1)) / n);
          const part: SubscriberSpec = {
            ...spec,
            count: to - from,
            ...(spec.tokens ? { tokens: spec.tokens.slice(from, to) } : {}),
            ...(spec.filters ? { filters: spec.filters.slice(from, to) } : {}),
          };
          const ready = nextMessage(child, isReady, READY_TIMEOUT_MS, 'subscribers opening');
          child.send({ type: 'start', spec: part } satisfies ToSubscriber);
          return ready;
        }),
      );
      const failed = readies.reduce((sum, r) => sum + r.failed, 0);
      if (failed > 0) throw new Error(`${failed} of ${spec.count} ${spec.mode} subscribers failed to open: ${readies.find((r) => r.firstError)?.firstError}`);
      fleet.openMs = Math.max(...readies.map((r) => r.openMs));
      return fleet;
    } catch (error) {
      await fleet.close();
      throw error;
    }
  }

  /** Changes received by the slowest subscriber. */
  min(): number {
    return Math.min(...this.progress.map((p) => p.min));
  }

  total(): number {
    return this.progress.reduce((sum, p) => sum + p.total, 0);
  }

  /** Waits until the slowest subscriber has received `n` changes; false on timeout. */
  waitForMin(n: number, timeoutMs: number): Promise<boolean> {
    if (this.min() >= n) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.changed.off('progress', check);
        resolve(ok);
      };
      const check = () => {
        if (this.min() >= n) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.changed.on('progress', check);
    });
  }

  /** Everything the subscribers saw; `expected` is the count each should have received. */
  async report(expected: number): Promise<FleetReport> {
    const reports = await Promise.all(
      this.children.map((child) => {
        const answer = nextMessage(child, isReport, REPORT_TIMEOUT_MS, 'subscriber report');
        child.send({ type: 'report', expected } satisfies ToSubscriber);
        return answer;
      }),
    );
    const latency = new Histogram();
    const closes: Record<string, number> = {};
    for (const r of reports) {
      latency.merge(r.histogram);
      for (const [code, n] of Object.entries(r.closes)) closes[code] = (closes[code] ?? 0) + n;
    }
    const sum = (key: keyof SubscriberReport) => reports.reduce((s, r) => s + (r[key] as number), 0);
    return {
      subscribers: sum('subscribers'),
      total: sum('total'),
      losses: sum('losses'),
      extras: sum('extras'),
      latency,
      closes,
      errors: sum('errors'),
      lastReceiveAt: Math.max(...reports.map((r) => r.lastReceiveAt)),
    };
  }

  async close(): Promise<void> {
    await Promise.all(
      this.children.map((child) => {
        if (child.connected) child.send({ type: 'close' } satisfies ToSubscriber);
        return stopChild(child, 5000);
      }),
    );
  }
}
