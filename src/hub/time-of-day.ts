/**
 * Times of day compared as PostgreSQL compares them, to the microsecond.
 * `time` is wall-clock time, "24:00:00" the last of a day; an offset given
 * with it is dropped, as PostgreSQL's cast drops it. `time with time zone`
 * orders by the UTC time and then by offset, so 10:00+02 and 08:00+00 are
 * not equal (PostgreSQL keeps them apart too); without an offset it is UTC.
 * Reads what to_json writes ("08:00:00.5", "08:00:00+05:30:15") and filter
 * values in the same ISO 8601 forms ("08:00", "Z", "+0530").
 */
import { trimCSpace } from '../capture/exact-number.js';
import { clockMicros, microsOf, offsetSeconds } from './instant.js';

export interface TimeOfDay {
  /** Microseconds past midnight, local to the offset. */
  micros: number;
  /** Seconds east of UTC; 0 for a `time`. */
  offset: number;
}

// Offsets as PostgreSQL reads them: +05, +5:30, +05:30:15, +0530.
const CLOCK = /^(\d\d?):(\d\d)(?::(\d\d)(?:\.(\d+))?)?(?:(Z)|([+-])(\d\d?)(?::(\d\d)(?::(\d\d))?|(\d\d))?)?$/i;

export function parseTimeOfDay(text: string, withZone: boolean): TimeOfDay | undefined {
  const m = CLOCK.exec(trimCSpace(text));
  if (!m) return undefined;
  const [, h = '0', mi = '0', s = '0', fraction = '', zulu, offsetSign, oh = '0', colonMinutes, os = '0', compactMinutes] = m;
  const om = colonMinutes ?? compactMinutes ?? '0';
  const micros = clockMicros(h, mi, s, microsOf(fraction));
  const offset = offsetSeconds(zulu === undefined ? offsetSign : undefined, oh, om, os);
  if (micros === undefined || offset === undefined) return undefined;
  return { micros, offset: withZone ? offset : 0 };
}

export function compareTimesOfDay(a: TimeOfDay, b: TimeOfDay): number {
  const utc = a.micros - a.offset * 1_000_000 - (b.micros - b.offset * 1_000_000);
  if (utc !== 0) return utc < 0 ? -1 : 1;
  // At the same UTC time PostgreSQL puts the larger offset east first.
  return b.offset - a.offset;
}

/** A key equal for equal times (for sets). */
export function timeOfDayKey(time: TimeOfDay): string {
  return `${time.micros}${time.offset < 0 ? '' : '+'}${time.offset}`;
}
