/**
 * CONTRACT §5, §6: SSE and /changes refuse bad requests before anything is
 * streamed, as an HTTP status with the JSON body {"error":{"code","message"}}.
 * Each group also sends a valid request, so a server refusing everything fails.
 */
import { HttpErrorBodySchema } from '../src/protocol.js';
import { describe, expect, test } from './support/fixtures.js';

interface Answer {
  status: number;
  type: string;
  body: unknown;
}

/** GETs a URL; an event stream is cut off at once (it would never end). */
async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  const type = res.headers.get('content-type') ?? '';
  if (type.startsWith('text/event-stream')) {
    abort.abort();
    return { status: res.status, type, body: null };
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Left as text: the assertion below shows it.
  }
  return { status: res.status, type, body };
}

/** Expects a refusal with this status and body code; `what` names the case in failure output. */
async function expectRefused(base: string, path: string, status: number, code: string, headers: Record<string, string> = {}): Promise<void> {
  const answer = await get(base + path, headers);
  const parsed = HttpErrorBodySchema.safeParse(answer.body);
  expect({
    path,
    status: answer.status,
    json: answer.type.startsWith('application/json'),
    code: parsed.success ? parsed.data.error.code : answer.body,
  }).toEqual({ path, status, json: true, code });
  expect(parsed.success && parsed.data.error.message.length > 0).toBe(true);
}

const FEEDS = ['/sse', '/changes'] as const;

describe.each(FEEDS)('%s/:table refusals', (feed) => {
  test('404 unknown_table for a table that is not exposed', async ({ rowcast }) => {
    for (const table of ['nope', 'public.nope', 'rowcast.changes', 'pg_catalog.pg_class']) {
      await expectRefused(rowcast.url, `${feed}/${table}`, 404, 'unknown_table');
    }
    const ok = await get(`${rowcast.url}${feed}/orders`);
    expect(ok.status).toBe(200);
  });

  test('400 invalid_request for a bad filter', async ({ rowcast }) => {
    const bad = [
      '/orders?status=like.pending',
      '/orders?customer_name=in.(Ada,Bob',
      '/orders?no_such_column=eq.1',
      '/orders?total=gt.abc',
      '/orders?created_at=gt.yesterday',
      '/orders?status=is.true',
      '/notifications?read=lt.',
      '/posts?likes=in.(1,two)',
    ];
    for (const path of bad) await expectRefused(rowcast.url, feed + path, 400, 'invalid_request');
    const ok = await get(`${rowcast.url}${feed}/orders?status=eq.pending&total=gt.10&customer_name=in.(Ada,"B,C")`);
    expect(ok.status).toBe(200);
  });

  test('400 invalid_request for a filter on the column "__proto__" (there is none), not an unfiltered feed', async ({ rowcast }) => {
    await expectRefused(rowcast.url, `${feed}/posts?__proto__=eq.1`, 400, 'invalid_request');
  });

  test('400 invalid_request for bad ops', async ({ rowcast }) => {
    for (const ops of ['', 'UPSERT', 'INSERT,INSERT', 'INSERT,,UPDATE', 'INSERT,UPDATE,DELETE,INSERT']) {
      await expectRefused(rowcast.url, `${feed}/posts?ops=${encodeURIComponent(ops)}`, 400, 'invalid_request');
    }
    const ok = await get(`${rowcast.url}${feed}/posts?ops=INSERT,DELETE`);
    expect(ok.status).toBe(200);
  });

  test('400 invalid_request for a query key given twice', async ({ rowcast }) => {
    for (const query of ['status=eq.a&status=eq.b', 'ops=INSERT&ops=UPDATE', 'since=1_0&since=1_0']) {
      await expectRefused(rowcast.url, `${feed}/orders?${query}`, 400, 'invalid_request');
    }
  });

  test('400 invalid_request for a string that is not a cursor; 410 cursor_expired for one this log never issued', async ({ rowcast }) => {
    for (const since of ['not-a-cursor', 'abc', '1_2_3', '-1_0', 'ZZ_0']) {
      await expectRefused(rowcast.url, `${feed}/posts?since=${encodeURIComponent(since)}`, 400, 'invalid_request');
    }
    // Well formed, but far past the head of the log: resuming from it could only be a silent gap.
    await expectRefused(rowcast.url, `${feed}/posts?since=zzzzzz_0`, 410, 'cursor_expired');
    const ok = await get(`${rowcast.url}${feed}/posts?since=0_0`);
    expect(ok.status).toBe(200);
  });
});

test('SSE: a Last-Event-ID that is not a cursor is refused like a bad since', async ({ rowcast }) => {
  await expectRefused(rowcast.url, '/sse/posts', 400, 'invalid_request', { 'Last-Event-ID': 'garbage' });
  await expectRefused(rowcast.url, '/sse/posts', 410, 'cursor_expired', { 'Last-Event-ID': 'zzzzzz_0' });
  const ok = await get(`${rowcast.url}/sse/posts`, { 'Last-Event-ID': '0_0' });
  expect(ok).toMatchObject({ status: 200, type: expect.stringMatching(/^text\/event-stream/) });
});

test('/changes: 400 invalid_request for a limit outside 1..10000', async ({ rowcast }) => {
  for (const limit of ['0', '10001', 'abc', '-1', '1.5', '', '1e3', '0x10', '%202', '2.0', '+2', '00000000000000000000010001']) {
    await expectRefused(rowcast.url, `/changes/posts?limit=${limit}`, 400, 'invalid_request');
  }
  for (const limit of ['1', '10000', '010']) {
    const ok = await get(`${rowcast.url}/changes/posts?limit=${limit}`);
    expect({ limit, status: ok.status }).toEqual({ limit, status: 200 });
  }
});

test('an unknown route is a 404 with a JSON error body', async ({ rowcast }) => {
  for (const path of ['/nope', '/changes', '/sse', '/changes/orders/extra', '/tables/orders']) {
    const answer = await get(rowcast.url + path);
    expect({ path, status: answer.status, json: answer.type.startsWith('application/json') }).toEqual({ path, status: 404, json: true });
    expect(HttpErrorBodySchema.safeParse(answer.body).success).toBe(true);
  }
  const post = await fetch(`${rowcast.url}/tables`, { method: 'POST' });
  expect(post.status).toBe(404);
  expect(HttpErrorBodySchema.safeParse(await post.json()).success).toBe(true);
});
