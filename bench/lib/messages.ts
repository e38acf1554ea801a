/** IPC between the bench and its subscriber processes (bench/clients/subscribers.ts). */
import type { HistogramData } from './histogram.js';

export interface SubscriberSpec {
  /** ws: Rowcast /ws; sse: Rowcast /sse/:table; raw: a plain WebSocket that only counts frames (the control). */
  mode: 'ws' | 'sse' | 'raw';
  /** http://host:port of the server. */
  url: string;
  count: number;
  table: string;
  /** One JWT per subscriber, when the server checks tokens. */
  tokens?: string[];
  /** One filter per subscriber (column → PostgREST filter), or none. */
  filters?: Array<Record<string, string>>;
  /** Connections being opened at once, so the listen backlog never overflows. */
  concurrency: number;
  /** Record commit-to-receive latency of every change (Rowcast modes only). */
  latency: boolean;
}

export type ToSubscriber = { type: 'start'; spec: SubscriberSpec } | { type: 'report'; expected: number } | { type: 'close' };

export interface Ready {
  type: 'ready';
  opened: number;
  failed: number;
  /** From the start message until every subscriber was subscribed. */
  openMs: number;
  firstError: string | null;
}

export interface Progress {
  type: 'progress';
  /** Changes received by the subscriber that has received the fewest. */
  min: number;
  total: number;
}

export interface SubscriberReport {
  type: 'report';
  subscribers: number;
  total: number;
  min: number;
  max: number;
  /** Sum over subscribers of changes missing against the expected count. */
  losses: number;
  /** Sum over subscribers of changes beyond the expected count (duplicates). */
  extras: number;
  histogram: HistogramData;
  /** Connections the server closed, by close code (or "end" for SSE). */
  closes: Record<string, number>;
  errors: number;
  /** Wall-clock ms of the last change received. */
  lastReceiveAt: number;
}

export type FromSubscriber = Ready | Progress | SubscriberReport;

export const isReady = (m: any): m is Ready => m?.type === 'ready';
export const isReport = (m: any): m is SubscriberReport => m?.type === 'report';
