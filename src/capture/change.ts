/**
 * One captured row change as read from the log. The row arrives as JSON text
 * and is parsed at most once, and only if a filter or a read rule looks at it,
 * its numbers kept exact (parseExactJson); the event JSON is built once from
 * that text, byte for byte, and shared by every transport.
 */
import { parseExactJson } from './exact-json.js';
import type { Op, Row } from '../protocol.js';
import { encodeCursor, type Cursor } from './cursor.js';

export interface ChangeRecord {
  pos: number;
  seq: number;
  schema: string;
  table: string;
  op: Op;
  rowJson: string;
  oldJson: string | null;
  committedAt: string;
}

export class Change {
  readonly cursor: Cursor;
  readonly id: string;
  /** "schema.table": the key subscriptions are indexed by. */
  readonly tableKey: string;
  private parsedRow: Row | undefined;
  private parsedOld: Row | null | undefined;
  private redacted: Change | undefined;
  private eventJson: string | undefined;
  private sseBytes: Buffer | undefined;
  /** WebSocket frames by subscription id: most clients reuse a few ids. */
  private wsFrames: Map<string, Buffer> | undefined;

  constructor(readonly record: ChangeRecord) {
    this.cursor = { pos: record.pos, seq: record.seq };
    this.id = encodeCursor(this.cursor);
    this.tableKey = `${record.schema}.${record.table}`;
  }

  get op(): Op {
    return this.record.op;
  }

  get row(): Row {
    this.parsedRow ??= parseExactJson(this.record.rowJson) as Row;
    return this.parsedRow;
  }

  get old(): Row | null {
    if (this.parsedOld === undefined) this.parsedOld = this.record.oldJson === null ? null : (parseExactJson(this.record.oldJson) as Row);
    return this.parsedOld;
  }

  /** The same change without its previous row, for a reader who may not see that row. */
  withoutOld(): Change {
    this.redacted ??= new Change({ ...this.record, oldJson: null });
    return this.redacted;
  }

  /** The change event of CONTRACT §3 as JSON, serialized once. */
  get json(): string {
    const r = this.record;
    this.eventJson ??=
      `{"id":"${this.id}","table":${JSON.stringify(r.table)},"schema":${JSON.stringify(r.schema)},` +
      `"op":"${r.op}","row":${oneLine(r.rowJson)},"old":${r.oldJson === null ? 'null' : oneLine(r.oldJson)},` +
      `"committed_at":"${r.committedAt}"}`;
    return this.eventJson;
  }

  /**
   * `{"type":"change","sub":…, …event}`: the WebSocket frame for one subscription
   * id, encoded to UTF-8 once and the same buffer written to every subscriber.
   */
  wsFrame(subscriptionId: string): Buffer {
    this.wsFrames ??= new Map();
    let frame = this.wsFrames.get(subscriptionId);
    if (frame === undefined) {
      frame = Buffer.from(`{"type":"change","sub":${JSON.stringify(subscriptionId)},${this.json.slice(1)}`);
      this.wsFrames.set(subscriptionId, frame);
    }
    return frame;
  }

  /** The Server-Sent Event of CONTRACT §5: the same bytes for every SSE client. */
  get sseFrame(): Buffer {
    this.sseBytes ??= Buffer.from(`id: ${this.id}\nevent: change\ndata: ${this.json}\n\n`);
    return this.sseBytes;
  }
}

/**
 * A `json` column keeps its text as written, line breaks included, and
 * to_json embeds it as is; a line break would cut an SSE `data:` line. JSON
 * strings cannot hold a raw CR or LF, so each is whitespace between tokens,
 * and a space means the same.
 */
function oneLine(json: string): string {
  return json.includes('\n') || json.includes('\r') ? json.replace(/[\r\n]/g, ' ') : json;
}
