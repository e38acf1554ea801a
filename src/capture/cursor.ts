/**
 * Cursors: a position in the global commit order, (pos, seq) = transaction
 * position and change within it. (pos, 0) means "before transaction pos", so
 * (head + 1, 0) is "after everything up to head". Clients see an opaque string.
 */
import { RowcastError } from '../errors.js';

export interface Cursor {
  readonly pos: number;
  readonly seq: number;
}

const FORMAT = /^([0-9a-z]{1,11})_([0-9a-z]{1,11})$/;

export function encodeCursor(c: Cursor): string {
  return `${c.pos.toString(36)}_${c.seq.toString(36)}`;
}

/** Parses a client's cursor; a malformed one is the client's error. */
export function decodeCursor(text: string): Cursor {
  const m = FORMAT.exec(text);
  const pos = m ? parseInt(m[1] as string, 36) : NaN;
  const seq = m ? parseInt(m[2] as string, 36) : NaN;
  if (!Number.isSafeInteger(pos) || !Number.isSafeInteger(seq)) {
    throw new RowcastError('invalid_request', `"${text.slice(0, 64)}" is not a Rowcast cursor`);
  }
  return { pos, seq };
}

export function compareCursors(a: Cursor, b: Cursor): number {
  return a.pos !== b.pos ? a.pos - b.pos : a.seq - b.seq;
}

/** The cursor right after every change of transactions up to `pos`. */
export function afterTransaction(pos: number): Cursor {
  return { pos: pos + 1, seq: 0 };
}

/**
 * The last transaction a cursor is past. A change's id (pos, seq) and the
 * cursor after its transaction (pos + 1, 0) resume alike for its subscriber,
 * which was offered the rest of that transaction.
 */
export function transactionsThrough(c: Cursor): number {
  return c.seq > 0 ? c.pos : c.pos - 1;
}
