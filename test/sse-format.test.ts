/**
 * CONTRACT §5 on the wire: the SSE stream read byte for byte with a raw
 * streaming fetch (no EventSource to smooth things over): event framing,
 * content type, keep-alive comments, and Last-Event-ID resume.
 */
import { compareCursors, decodeCursor } from '../src/capture/cursor.js';
import { ChangeEventSchema } from '../src/protocol.js';
import { expect, startTestServer, test } from './support/fixtures.js';
import { waitFor } from './support/wait.js';

const CURSOR_EVENT = /^id: ([0-9a-z]+_[0-9a-z]+)\nevent: cursor\ndata: \{"cursor":"([^"\n]*)"\}$/;

/** A raw SSE stream: every byte received, decoded as UTF-8, kept in `text`. */
class RawStream {
  text = '';
  failed: unknown = null;
  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<RawStream> {
    const abort = new AbortController();
    const response = await fetch(url, { headers, signal: abort.signal });
    const stream = new RawStream(response, abort);
    void stream.pump();
    return stream;
  }

  private async pump(): Promise<void> {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const reader = this.response.body!.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        this.text += decoder.decode(value, { stream: true });
      }
    } catch (error) {
      if (!this.abort.signal.aborted) this.failed = error;
    }
  }

  /** Complete blocks: what precedes each blank line. */
  blocks(): string[] {
    return this.text.split('\n\n').slice(0, -1);
  }

  /** The change events, each checked against the exact framing of CONTRACT §5. */
  events(): Array<{ id: string; data: string }> {
    return this.blocks()
      .filter((b) => !b.startsWith(':') && !CURSOR_EVENT.test(b))
      .map((block) => {
        const m = /^id: ([^\n]+)\nevent: change\ndata: ([^\n]+)$/.exec(block);
        if (!m) throw new Error(`not a change event framed as id/event/data: ${JSON.stringify(block)}`);
        return { id: m[1] as string, data: m[2] as string };
      });
  }

  /** The ids of the `event: cursor` frames, each exactly `id: C\nevent: cursor\ndata: {"cursor":"C"}`. */
  cursors(): string[] {
    return this.blocks().flatMap((block) => {
      const m = CURSOR_EVENT.exec(block);
      if (!m) return [];
      expect(m[2]).toBe(m[1]);
      return [m[1] as string];
    });
  }

  /** Every block is a change event, a cursor event, or a comment whose every line starts with ':'. */
  expectWellFormed(): void {
    expect(this.failed).toBeNull();
    for (const block of this.blocks()) {
      if (block.startsWith(':')) expect(block.split('\n').every((line) => line.startsWith(':'))).toBe(true);
    }
    this.events();
    this.cursors();
  }

  close(): void {
    this.abort.abort();
  }
}

/** Raw JSON text of each change in a /changes answer, cut out of the body without re-serializing. */
async function rawChanges(base: string, table: string, count: number): Promise<string[]> {
  return waitFor(
    async () => {
      const text = await (await fetch(`${base}/changes/${table}`)).text();
      const parsed = JSON.parse(text) as { changes: unknown[] };
      if (parsed.changes.length < count) return false;
      // Each element, serialized by the server; the body is {"changes":[e1,e2,…],"cursor":"…"}.
      const inner = text.slice('{"changes":['.length, text.lastIndexOf('],"cursor":'));
      const out: string[] = [];
      let depth = 0;
      let start = 0;
      let inString = false;
      for (let i = 0; i < inner.length; i++) {
        const ch = inner[i];
        if (inString) {
          if (ch === '\\') i++;
          else if (ch === '"') inString = false;
        } else if (ch === '"') inString = true;
        else if (ch === '{') depth++;
        else if (ch === '}' && --depth === 0) {
          out.push(inner.slice(start, i + 1));
          start = i + 2;
        }
      }
      expect(out.map((s) => JSON.parse(s))).toEqual(parsed.changes);
      return out;
    },
    { what: `${count} changes of ${table}` },
  );
}

test('each change is exactly "id: <cursor>\\nevent: change\\ndata: <json>\\n\\n", with the bytes /changes serves', async ({ rowcast, database }) => {
  const stream = await RawStream.open(`${rowcast.url}/sse/posts`);
  expect(stream.response.status).toBe(200);
  expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(stream.response.headers.get('cache-control')).toMatch(/no-cache/);
  // Subscribed once the first bytes (a comment) are in; writes after that are live.
  await waitFor(() => stream.text.length > 0, { what: 'the stream to start' });

  // Line breaks and SSE syntax inside a value must not break out of the data line.
  const body = 'one\ntwo\r\nthree\rfour\n\ndata: injected\n\nid: 0_0\nevent: change\n: é ✓ \u2028 \u{1F600}';
  await database.query('insert into posts (title, body) values ($1, $2)', ['tricky', body]);
  await database.query("insert into posts (title) values ('plain')");
  await waitFor(() => stream.events().length >= 2, { what: 'two SSE events' });

  const [first, second] = await rawChanges(rowcast.url, 'posts', 2);
  const events = stream.events();
  expect(events.map((e) => e.data)).toEqual([first, second]);
  expect(events.map((e) => e.id)).toEqual(events.map((e) => ChangeEventSchema.parse(JSON.parse(e.data)).id));
  expect(stream.text).toContain(`id: ${events[0]!.id}\nevent: change\ndata: ${first}\n\n`);
  expect(ChangeEventSchema.parse(JSON.parse(events[0]!.data)).row).toMatchObject({ title: 'tricky', body });
  stream.expectWellFormed();
  stream.close();
});

test('a json column written with line breaks still makes one data line, the value intact', async ({ rowcast, database }) => {
  await database.query('create table public.docs (id int primary key, doc json, tags jsonb)');
  await database.query("select rowcast.expose('public.docs')");
  await waitFor(async () => (await fetch(`${rowcast.url}/sse/docs`, { method: 'HEAD' })).status !== 404, { what: 'docs served' });
  const stream = await RawStream.open(`${rowcast.url}/sse/docs`);
  await waitFor(() => stream.text.length > 0, { what: 'the stream to start' });

  const pretty = '{\n  "a": 1,\r\n  "b": ["x\\ny",\r  2]\n}';
  await database.query('insert into docs (id, doc, tags) values (1, $1::json, $1::jsonb)', [pretty]);
  await database.query('update docs set doc = $1::json', ['{\n"c": null\n}']);
  await waitFor(() => stream.events().length >= 2, { what: 'two SSE events' });

  const [insert, update] = stream.events().map((e) => ChangeEventSchema.parse(JSON.parse(e.data)));
  expect(insert!.row).toEqual({ id: 1, doc: { a: 1, b: ['x\ny', 2] }, tags: { a: 1, b: ['x\ny', 2] } });
  expect(update!.row).toMatchObject({ doc: { c: null } });
  expect(update!.old).toMatchObject({ doc: { a: 1, b: ['x\ny', 2] } });
  expect(stream.events().map((e) => e.data)).toEqual(await rawChanges(rowcast.url, 'docs', 2));
  stream.expectWellFormed();
  stream.close();
});

test('keep-alive comments go out periodically and never disturb the event framing', async ({ database }) => {
  // A short keep-alive, so the test waits a fraction of a second for it, not 15 s.
  const server = await startTestServer(database.url, { sseKeepAliveMs: 200 });
  try {
    const stream = await RawStream.open(`${server.url}/sse/posts`);
    await waitFor(() => stream.blocks().length > 0, { what: 'the first block' });
    const comments = () => stream.blocks().filter((b) => b.startsWith(':')).length;
    const initial = comments();
    await waitFor(() => comments() >= initial + 1, { what: 'a keep-alive comment', timeoutMs: 5000 });
    await database.query("insert into posts (title) values ('between')");
    await waitFor(() => stream.events().length === 1, { what: 'the event' });
    const afterEvent = comments();
    await waitFor(() => comments() >= afterEvent + 2, { what: 'two more keep-alive comments', timeoutMs: 5000 });
    // A comment never carries an id: line (that would move a client's Last-Event-ID).
    for (const block of stream.blocks().filter((b) => b.startsWith(':'))) expect(block).not.toMatch(/(^|\n)id:/);
    expect(JSON.parse(stream.events()[0]!.data).row.title).toBe('between');
    stream.expectWellFormed();
    stream.close();
  } finally {
    await server.close();
  }
});

test('Last-Event-ID resumes right after the given event, then goes live, nothing twice', async ({ rowcast, database }) => {
  for (let i = 1; i <= 5; i++) await database.query('insert into posts (title) values ($1)', [`p${i}`]);
  const log = (await rawChanges(rowcast.url, 'posts', 5)).map((s) => JSON.parse(s) as { id: string });
  const ids = log.map((c) => c.id);

  const stream = await RawStream.open(`${rowcast.url}/sse/posts`, { 'Last-Event-ID': ids[1]! });
  expect(stream.response.status).toBe(200);
  await waitFor(() => stream.events().length >= 3, { what: 'the backlog after p2' });
  await database.query("insert into posts (title) values ('p6')");
  await waitFor(() => stream.events().some((e) => JSON.parse(e.data).row.title === 'p6'), { what: 'p6 live' });
  const titles = stream.events().map((e) => JSON.parse(e.data).row.title);
  expect(titles).toEqual(['p3', 'p4', 'p5', 'p6']);
  expect(stream.events().slice(0, 3).map((e) => e.id)).toEqual(ids.slice(2));
  stream.expectWellFormed();
  stream.close();
});

test('Last-Event-ID wins over since: an EventSource reconnects with its original URL', async ({ rowcast, database }) => {
  for (let i = 1; i <= 4; i++) await database.query('insert into posts (title) values ($1)', [`q${i}`]);
  const ids = (await rawChanges(rowcast.url, 'posts', 4)).map((s) => (JSON.parse(s) as { id: string }).id);
  const stream = await RawStream.open(`${rowcast.url}/sse/posts?since=${ids[0]}`, { 'Last-Event-ID': ids[2]! });
  await database.query("insert into posts (title) values ('q5')");
  await waitFor(() => stream.events().some((e) => JSON.parse(e.data).row.title === 'q5'), { what: 'q5' });
  expect(stream.events().map((e) => JSON.parse(e.data).row.title)).toEqual(['q4', 'q5']);
  stream.expectWellFormed();
  stream.close();
});

test('a stream is told its cursor: at the start, and at a keep-alive once the feed moved past its last change', async ({ database }) => {
  const server = await startTestServer(database.url, { sseKeepAliveMs: 100 });
  try {
    const stream = await RawStream.open(`${server.url}/sse/posts`);
    await waitFor(() => stream.cursors().length === 1, { what: 'the first cursor event' });
    const [start] = stream.cursors();
    expect(stream.text).toContain(`: subscribed public.posts at ${start}\n\nid: ${start}\nevent: cursor\ndata: {"cursor":"${start}"}\n\n`);

    await database.query("insert into posts (title) values ('told')");
    await waitFor(() => stream.events().length === 1, { what: 'the change' });
    const changeId = stream.events()[0]!.id;
    // The change's own id is the cursor now: keep-alives go by without another cursor event.
    const keepAlives = () => stream.blocks().filter((b) => b === ': keep-alive').length;
    const seen = keepAlives();
    await waitFor(() => keepAlives() >= seen + 3, { what: 'three keep-alives' });
    expect(stream.cursors()).toEqual([start]);

    for (let i = 0; i < 3; i++) await database.query("insert into orders (status) values ('elsewhere')");
    await waitFor(() => stream.cursors().length === 2, { what: 'a cursor past the change' });
    const moved = stream.cursors()[1]!;
    expect(compareCursors(decodeCursor(moved), decodeCursor(changeId))).toBeGreaterThan(0);
    expect(stream.events()).toHaveLength(1);
    stream.expectWellFormed();
    stream.close();

    // Resuming there misses nothing and repeats nothing.
    const resumed = await RawStream.open(`${server.url}/sse/posts`, { 'Last-Event-ID': moved });
    expect(resumed.response.status).toBe(200);
    await waitFor(() => resumed.cursors().length === 1, { what: 'the resumed stream' });
    expect(resumed.cursors()).toEqual([moved]);
    await database.query("insert into posts (title) values ('after')");
    await waitFor(() => resumed.events().length === 1, { what: 'the next change' });
    expect(JSON.parse(resumed.events()[0]!.data).row.title).toBe('after');
    resumed.expectWellFormed();
    resumed.close();
  } finally {
    await server.close();
  }
});
