/**
 * Server-Sent Events over a raw fetch stream, parsed by hand: the test sees
 * exactly what went over the wire (ids, event names, comments), and controls
 * Last-Event-ID itself when it resumes.
 */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** Parses one event block (the lines between blank lines); null for comment-only blocks. */
function parseBlock(block: string): SseEvent | null {
  let id: string | undefined;
  let event = 'message';
  const data: string[] = [];
  let fields = 0;
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    fields += 1;
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return fields === 0 ? null : { id, event, data: data.join('\n') };
}

/** Yields each complete event of a text/event-stream body until it ends or is aborted. */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const event = parseBlock(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) yield event;
        end = buffer.indexOf('\n\n');
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** GET an SSE route; a refusal comes back as status and JSON body instead of a stream. */
export async function openSse(
  url: string,
  options: { lastEventId?: string; signal?: AbortSignal } = {},
): Promise<{ status: number; body?: unknown; stream?: ReadableStream<Uint8Array>; contentType: string | null }> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
  const res = await fetch(url, { headers, ...(options.signal ? { signal: options.signal } : {}) });
  const contentType = res.headers.get('content-type');
  if (res.status !== 200 || !res.body) {
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: the test shows the text.
    }
    return { status: res.status, body, contentType };
  }
  return { status: res.status, stream: res.body, contentType };
}
