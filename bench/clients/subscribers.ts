/**
 * A subscriber process: opens `count` WebSocket or SSE subscriptions, counts
 * the changes each receives and records commit-to-receive latency, reporting
 * progress to the bench over IPC. Frames are never parsed whole: the bench
 * would measure its own JSON.parse instead of the server. A change frame ends
 * with `"committed_at":"<24-char ISO>"}`, so its commit time is a fixed slice.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Histogram } from '../lib/histogram.js';
import type { FromSubscriber, SubscriberSpec, ToSubscriber } from '../lib/messages.js';
import { connectWire } from './ws-wire.js';

const PROGRESS_EVERY_MS = 20;
const CONNECT_TIMEOUT_MS = 30_000;
const TAIL = '"committed_at":"2026-01-01T00:00:00.000Z"}'.length;
const CHAR_C = 0x63;

const send = (m: FromSubscriber) => process.send?.(m);
const histogram = new Histogram();
let counts = new Float64Array(0);
let lastReceiveAt = 0;
let recordLatency = false;
let errors = 0;
let closing = false;
const closes: Record<string, number> = {};
const closers: Array<() => void> = [];

/** Date.parse per frame is avoided: a statement's changes share one commit time. */
let lastStamp = '';
let lastStampMs = 0;
function received(i: number, stamp: string | null): void {
  counts[i] = (counts[i] ?? 0) + 1;
  const now = performance.timeOrigin + performance.now();
  lastReceiveAt = now;
  if (!recordLatency || stamp === null) return;
  if (stamp !== lastStamp) {
    lastStamp = stamp;
    lastStampMs = Date.parse(stamp);
  }
  histogram.record(now - lastStampMs);
}

function closed(key: string): void {
  if (!closing) closes[key] = (closes[key] ?? 0) + 1;
}

function filterQuery(filter: Record<string, string> | undefined): string {
  return filter ? new URLSearchParams(filter).toString() : '';
}

/** Resolves once subscribed (raw: once open). */
function openWs(spec: SubscriberSpec, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const token = spec.tokens?.[i];
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve();
    };
    const raw = spec.mode === 'raw';
    const socket = connectWire(new URL('/ws', spec.url), token ? { Authorization: `Bearer ${token}` } : {}, {
      open: () => {
        if (raw) return settle();
        const filter = spec.filters?.[i];
        socket.sendText(JSON.stringify({ type: 'subscribe', id: 's', table: spec.table, ...(filter ? { filter } : {}) }));
      },
      text: (data, start, end) => {
        // `{"type":"` is 9 bytes; of all server messages only "change" starts with c.
        if (data[start + 9] === CHAR_C) {
          received(i, raw ? null : data.toString('latin1', end - TAIL + 16, end - 2));
        } else if (!settled) {
          const text = data.toString('utf8', start, end);
          if (text.startsWith('{"type":"subscribed"')) settle();
          else if (text.startsWith('{"type":"error"')) settle(new Error(text));
        }
      },
      error: (error) => {
        errors += 1;
        settle(error);
      },
      closed: (code) => {
        closed(String(code));
        settle(new Error(`closed ${code}`));
      },
    });
    closers.push(() => socket.destroy());
  });
}

/** Resolves once the stream's opening comment arrived. */
function openSse(spec: SubscriberSpec, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const token = spec.tokens?.[i];
    const query = filterQuery(spec.filters?.[i]);
    const req = http.get(`${spec.url}/sse/${spec.table}${query ? `?${query}` : ''}`, {
      agent: false,
      headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    closers.push(() => req.destroy());
    let settled = false;
    req.on('error', (error) => {
      errors += 1;
      if (!settled) reject(error);
      settled = true;
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        settled = true;
        reject(new Error(`SSE status ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let pending = '';
      res.on('data', (chunk: string) => {
        pending += chunk;
        let start = 0;
        for (let end = pending.indexOf('\n\n'); end !== -1; end = pending.indexOf('\n\n', start)) {
          // Changes are `id: …\nevent: change\ndata: {…}`; cursor events (`event: cursor`) are not
          // changes, and comments start with ':'.
          if (pending.charCodeAt(start) === 0x69) {
            if (pending.startsWith('event: change\n', pending.indexOf('\n', start) + 1)) received(i, pending.slice(end - TAIL + 16, end - 2));
          } else if (!settled) {
            settled = true;
            resolve();
          }
          start = end + 2;
        }
        pending = pending.slice(start);
      });
      res.on('end', () => closed('end'));
    });
  });
}

/** Opens every subscriber, `concurrency` at a time. */
async function openAll(spec: SubscriberSpec): Promise<{ opened: number; failed: number; firstError: string | null }> {
  let next = 0;
  let opened = 0;
  let failed = 0;
  let firstError: string | null = null;
  const open = spec.mode === 'sse' ? openSse : openWs;
  const worker = async () => {
    while (next < spec.count) {
      const i = next++;
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('connect timeout')), CONNECT_TIMEOUT_MS).unref());
      try {
        await Promise.race([open(spec, i), timeout]);
        opened += 1;
      } catch (error) {
        failed += 1;
        firstError ??= String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.count) }, worker));
  return { opened, failed, firstError };
}

function report(expected: number): FromSubscriber {
  let total = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let losses = 0;
  let extras = 0;
  for (const n of counts) {
    total += n;
    min = Math.min(min, n);
    max = Math.max(max, n);
    if (n < expected) losses += expected - n;
    else extras += n - expected;
  }
  return {
    type: 'report',
    subscribers: counts.length,
    total,
    min: counts.length ? min : 0,
    max,
    losses,
    extras,
    histogram: histogram.toJSON(),
    closes,
    errors,
    lastReceiveAt,
  };
}

function startProgress(): void {
  let sentMin = -1;
  let sentTotal = -1;
  setInterval(() => {
    let min = Number.POSITIVE_INFINITY;
    let total = 0;
    for (const n of counts) {
      if (n < min) min = n;
      total += n;
    }
    if (min === sentMin && total === sentTotal) return;
    sentMin = min;
    sentTotal = total;
    send({ type: 'progress', min, total });
  }, PROGRESS_EVERY_MS);
}

process.on('message', (message: ToSubscriber) => {
  if (message.type === 'start') {
    const t0 = performance.now();
    counts = new Float64Array(message.spec.count);
    recordLatency = message.spec.latency;
    void openAll(message.spec).then((result) => {
      send({ type: 'ready', ...result, openMs: performance.now() - t0 });
      startProgress();
    });
  } else if (message.type === 'report') {
    send(report(message.expected));
  } else {
    closing = true;
    for (const close of closers) close();
    process.exit(0);
  }
});
// The bench going away ends us too: no orphaned client processes.
process.on('disconnect', () => process.exit(0));
