/**
 * Prometheus metrics (`GET /metrics`). Components keep plain counters on
 * their hot paths; this registry reads them at scrape time, so a scrape
 * costs nothing between scrapes. Only the commit-to-send histogram is fed
 * per change.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ChangeFeed } from '../capture/change-feed.js';
import type { Change } from '../capture/change.js';
import type { WakeupListener } from '../capture/listener.js';
import type { Hub } from '../hub/hub.js';
import type { ConnectionRegistry, Refusal, Transport } from '../transports/connections.js';

export interface MetricSources {
  connections: ConnectionRegistry;
  hub: Hub;
  feed: ChangeFeed;
  listener: WakeupListener;
}

const TRANSPORTS: Transport[] = ['ws', 'sse'];
const REFUSALS: Refusal[] = ['connection_limit', 'unauthorized', 'forbidden_origin'];

/** A counter whose value is read from a component at scrape time. */
function readCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[], read: (set: (labels: Record<L, string>, v: number) => void) => void) {
  return new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      read((labels, v) => this.inc(labels as never, v));
    },
  });
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly commitToSend: Histogram;

  constructor(sources: MetricSources) {
    const { connections, hub, feed, listener } = sources;
    const r = this.registry;
    // The event-loop lag sampler wakes the process at this period, also when idle (prom-client's default is 10 ms).
    collectDefaultMetrics({ register: r, eventLoopMonitoringPrecision: 250 });
    new Gauge({
      name: 'rowcast_connections',
      help: 'Open client connections',
      labelNames: ['transport'],
      registers: [r],
      collect() {
        for (const t of TRANSPORTS) this.set({ transport: t }, connections.counts[t]);
      },
    });
    new Gauge({
      name: 'rowcast_subscriptions',
      help: 'Live subscriptions by table',
      labelNames: ['table'],
      registers: [r],
      collect() {
        this.reset();
        for (const [table, n] of hub.subscriptionsByTable()) this.set({ table }, n);
      },
    });
    readCounter(r, 'rowcast_changes_read_total', 'Changes read from the change log', [], (set) => set({}, feed.changesRead));
    readCounter(r, 'rowcast_changes_delivered_total', 'Changes written to clients', ['transport'], (set) => {
      for (const t of TRANSPORTS) set({ transport: t }, connections.delivered[t]);
    });
    readCounter(r, 'rowcast_changes_pruned_total', 'Changes removed from the log by retention', [], (set) => set({}, feed.changesPruned));
    readCounter(r, 'rowcast_listener_reconnects_total', 'Times the LISTEN connection was re-established', [], (set) => set({}, listener.reconnects));
    readCounter(r, 'rowcast_slow_consumer_drops_total', 'Connections dropped for not reading fast enough', ['transport'], (set) => {
      for (const t of TRANSPORTS) set({ transport: t }, connections.slowConsumerDrops[t]);
    });
    readCounter(r, 'rowcast_connections_refused_total', 'Connections and requests refused, by reason', ['reason'], (set) => {
      for (const reason of REFUSALS) set({ reason }, connections.refused[reason]);
    });
    new Gauge({
      name: 'rowcast_listener_up',
      help: '1 while the LISTEN connection is up',
      registers: [r],
      collect() {
        this.set(listener.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'rowcast_listener_lag_seconds',
      help: 'Commit-to-publish delay of the newest change published',
      registers: [r],
      collect() {
        this.set(feed.lagMs / 1000);
      },
    });
    this.commitToSend = new Histogram({
      name: 'rowcast_commit_to_send_seconds',
      help: 'From a change’s commit to its frames being written to clients',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [r],
    });
  }

  /** After the hub wrote a batch: one observation per change, not per subscriber. */
  observeSent(changes: readonly Change[]): void {
    const now = Date.now();
    for (const change of changes) this.commitToSend.observe(Math.max(0, now - Date.parse(change.record.committedAt)) / 1000);
  }
}
