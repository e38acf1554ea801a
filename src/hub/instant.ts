/**
 * Timestamps and dates compared at PostgreSQL's precision, the microsecond.
 * Reads what to_json writes — "2024-06-01T08:00:00.123456-04:00", offsets to
 * the second ("+00:53:28", historical zones), years past 9999, " BC",
 * "infinity" — and filter values in the same ISO 8601 forms ("Z", a space for
 * "T", "+05", "+0530" too). A value is read as PostgreSQL casts it to the
 * column's type: a timestamp (without time zone) ignores an offset, a date
 * ignores the time; a timestamptz value without an offset is UTC; a value
 * outside the type's range is none.
 */
import { trimCSpace } from '../capture/exact-number.js';

export type TimeType = 'timestamptz' | 'timestamp' | 'date';

/** Whole seconds since 1970-01-01 UTC (±Infinity for ±infinity) and the microseconds past them. */
export interface Instant {
  seconds: number;
  micros: number;
}

const DATE_TIME =
  /^(\d{4,})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?(?:(Z)|([+-])(\d\d)(?::?(\d\d)(?::?(\d\d))?)?)?)?( BC)?$/i;

/** A Map: no "__proto__" or "constructor" in it. */
const INFINITIES = new Map<string, Instant>([
  ['infinity', { seconds: Infinity, micros: 0 }],
  ['+infinity', { seconds: Infinity, micros: 0 }],
  ['-infinity', { seconds: -Infinity, micros: 0 }],
]);

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days from 1970-01-01 to a day of the proleptic Gregorian calendar (astronomical year: 1 BC is 0). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719468;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * Microseconds past midnight of a wall-clock time as written, given the
 * microseconds its fraction rounds to: up to 24:00:00, a leap second (:60)
 * allowed within that, as PostgreSQL allows them (12:00:60.5 is 12:01:00.5,
 * 23:59:60.5 is refused). Undefined when out of range.
 */
export function clockMicros(h: string, mi: string, s: string, fractionMicros: number): number | undefined {
  const [hour, minute, second] = [Number(h), Number(mi), Number(s)];
  const micros = ((hour * 60 + minute) * 60 + second) * 1_000_000 + fractionMicros;
  return minute > 59 || second > 60 || micros > 86_400_000_000 ? undefined : micros;
}

/** Seconds east of UTC of an offset as written (no sign: none given, 0); undefined past ±15:59:59. */
export function offsetSeconds(sign: string | undefined, h: string, mi: string, s: string): number | undefined {
  if (sign === undefined) return 0;
  if (Number(h) > 15 || Number(mi) > 59 || Number(s) > 59) return undefined;
  return (sign === '-' ? -1 : 1) * (Number(h) * 3600 + Number(mi) * 60 + Number(s));
}

/**
 * Microseconds of a seconds fraction, as PostgreSQL computes them: the
 * fraction read as a double, times a million, rounded half to even. So
 * `.0000005` (0.5 µs exactly, in doubles) is 0 µs and `.0000015` is 2.
 */
export function microsOf(fraction: string): number {
  if (fraction === '') return 0;
  const micros = Number(`0.${fraction}`) * 1_000_000;
  const whole = Math.floor(micros);
  const rest = micros - whole;
  return rest > 0.5 || (rest === 0.5 && whole % 2 === 1) ? whole + 1 : whole;
}

// PostgreSQL's range: dates from 4714-11-24 BC (Julian day 0) up to 5874897-12-31,
// timestamps from its first midnight up to 294276-12-31 23:59:59.999999.
const FIRST_DAY = daysFromCivil(-4713, 11, 24);
const DAY_AFTER_LAST_DATE = daysFromCivil(5874898, 1, 1);
const SECOND_AFTER_LAST_TIMESTAMP = daysFromCivil(294277, 1, 1) * 86400;

/** The instant a value of the column's type denotes; undefined when it is not one. */
export function parseInstant(text: string, type: TimeType): Instant | undefined {
  const trimmed = trimCSpace(text);
  const infinite = INFINITIES.get(trimmed.toLowerCase());
  if (infinite) return infinite;
  const m = DATE_TIME.exec(trimmed);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '', zulu, offsetSign, oh = '0', om = '0', os = '0', bc] = m;
  const month = Number(mo);
  let year = Number(y);
  if (year === 0 || month < 1 || month > 12) return undefined;
  if (bc) year = 1 - year;
  const day = Number(d);
  if (day < 1 || day > (month === 2 && isLeap(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number))) return undefined;
  const days = daysFromCivil(year, month, day);
  // A date ignores the time, but not a time out of range.
  const clock = clockMicros(h, mi, s, microsOf(fraction));
  const zone = offsetSeconds(zulu === undefined ? offsetSign : undefined, oh, om, os);
  if (clock === undefined || zone === undefined) return undefined;
  if (type === 'date') return days >= FIRST_DAY && days < DAY_AFTER_LAST_DATE ? { seconds: days * 86400, micros: 0 } : undefined;
  // A timestamp without time zone is wall-clock time: PostgreSQL drops an offset given with it.
  const offset = type === 'timestamp' ? 0 : zone;
  const micros = clock % 1_000_000;
  const seconds = days * 86400 + (clock - micros) / 1_000_000 - offset;
  // A timestamptz's range holds for its UTC time: an offset may carry a value out of it.
  if (seconds < FIRST_DAY * 86400 || seconds >= SECOND_AFTER_LAST_TIMESTAMP) return undefined;
  return { seconds, micros };
}

export function compareInstants(a: Instant, b: Instant): number {
  if (a.seconds !== b.seconds) return a.seconds < b.seconds ? -1 : 1;
  return a.micros - b.micros;
}

/** A key equal for equal instants (for sets). */
export function instantKey(instant: Instant): string {
  return `${instant.seconds}.${instant.micros}`;
}
