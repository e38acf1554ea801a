/**
 * How a filter reads, orders and matches the values of one column, by the
 * column's PostgreSQL type: numbers exactly (NaN and ±Infinity in
 * PostgreSQL's order), real and double precision as the floats they are,
 * timestamps and times of day to the microsecond, uuids by their bytes,
 * text by code point (character(n) without its padding), enums in their
 * labels' order, intervals by their length, jsonb and json by value, arrays
 * element by element (json-values). Row values are what parseExactJson made
 * of to_json's output.
 */
import { compareNumeric, ExactNumber, integerLiteral, trimCSpace, numericKey, numericOf, parseNumeric, type Numeric } from '../capture/exact-number.js';
import { floatOf, parseFloatValue } from '../capture/float-number.js';
import { compareIntervals, parseInterval, type IntervalSpan } from './interval.js';
import { compareInstants, instantKey, parseInstant, type Instant, type TimeType } from './instant.js';
import { compareTimesOfDay, parseTimeOfDay, timeOfDayKey, type TimeOfDay } from './time-of-day.js';
import { arrayValues, jsonbValues } from './json-values.js';

export interface ColumnValues<C> {
  /**
   * Names how row values are read, for those worth reading once per change
   * rather than once per subscriber (RowValueMemo); null when reading is cheap.
   */
  readonly memoAs: string | null;
  /** A filter value; undefined when it is not of the column's type. */
  fromFilter(text: string): C | undefined;
  /** A row value; undefined for NULL or anything not comparable. */
  fromRow(value: unknown): C | undefined;
  /** Orders two values, or null when the type has only eq, neq and in. */
  readonly compare: ((a: C, b: C) => number) | null;
  /** Equal for equal values, for `in`. */
  key(value: C): unknown;
}

const exact: ColumnValues<Numeric> = {
  memoAs: null,
  fromFilter: parseNumeric,
  fromRow: numericOf,
  compare: compareNumeric,
  key: numericKey,
};

/** smallint, integer or bigint: a value that is no integer or out of the type's range is refused, as its cast refuses it. */
function integerValues(bits: 16 | 32 | 64): ColumnValues<Numeric> {
  const limit = 2n ** BigInt(bits - 1);
  return {
    ...exact,
    fromFilter: (text) => {
      const value = integerLiteral(text);
      return value === undefined || value < -limit || value >= limit ? undefined : parseNumeric(value.toString());
    },
  };
}

const float = (single: boolean): ColumnValues<number> => ({
  memoAs: null,
  fromFilter: (text) => parseFloatValue(text, single),
  fromRow: (value) => floatOf(value, single),
  compare: compareNumeric,
  key: (value) => value,
});

/**
 * PostgreSQL's boolean input: any case, spaces around, a prefix of true,
 * false, yes or no, on, of or off, 1 or 0.
 */
function booleanOf(text: string): boolean | undefined {
  const word = trimCSpace(text).toLowerCase();
  if (word === '') return undefined;
  if ('true'.startsWith(word) || 'yes'.startsWith(word) || word === 'on' || word === '1') return true;
  if ('false'.startsWith(word) || 'no'.startsWith(word) || (word.length >= 2 && 'off'.startsWith(word)) || word === '0') return false;
  return undefined;
}

/** false before true, as PostgreSQL orders booleans. */
const boolean: ColumnValues<boolean> = {
  memoAs: null,
  fromFilter: booleanOf,
  fromRow: (value) => (typeof value === 'boolean' ? value : undefined),
  compare: (a, b) => Number(a) - Number(b),
  key: (value) => value,
};

const time = (type: TimeType): ColumnValues<Instant> => ({
  memoAs: type,
  fromFilter: (text) => parseInstant(text, type),
  fromRow: (value) => (typeof value === 'string' ? parseInstant(value, type) : undefined),
  compare: compareInstants,
  key: instantKey,
});

const timeOfDay = (withZone: boolean): ColumnValues<TimeOfDay> => ({
  memoAs: withZone ? 'timetz' : 'time',
  fromFilter: (text) => parseTimeOfDay(text, withZone),
  fromRow: (value) => (typeof value === 'string' ? parseTimeOfDay(value, withZone) : undefined),
  compare: compareTimesOfDay,
  key: timeOfDayKey,
});

const interval: ColumnValues<IntervalSpan> = {
  memoAs: 'interval',
  fromFilter: (text) => parseInterval(text),
  // to_json writes in the writer's IntervalStyle, whichever it was.
  fromRow: (value) => (typeof value === 'string' ? parseInterval(value, true) : undefined),
  compare: compareIntervals,
  key: (value) => value,
};

/** PostgreSQL's uuid input: optional braces, a hyphen optional after any four digits, either case. */
const UUID = /^\{?[0-9a-f]{4}(?:-?[0-9a-f]{4}){7}\}?$/i;

/**
 * The form to_json writes (lower case, hyphens at 8-4-4-4-12), in which row
 * values arrive as they are and order as the uuid's bytes.
 */
function canonicalUuid(text: string): string | undefined {
  if (!UUID.test(text) || text.startsWith('{') !== text.endsWith('}')) return undefined;
  const d = text.replace(/[{}-]/g, '').toLowerCase();
  return `${d.slice(0, 8)}-${d.slice(8, 12)}-${d.slice(12, 16)}-${d.slice(16, 20)}-${d.slice(20)}`;
}

const uuid: ColumnValues<string> = {
  memoAs: null,
  fromFilter: canonicalUuid,
  fromRow: (value) => (typeof value === 'string' ? value : undefined),
  compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  key: (value) => value,
};

/** UTF-16 puts surrogates (code points past U+FFFF) below U+E000–U+FFFF; code point order puts them above. */
function codePointRank(unit: number): number {
  return unit < 0xd800 ? unit : unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

/** Code point order, as PostgreSQL's C collation (UTF-8 bytes) has it. */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  let i = 0;
  while (i < length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === length) return a.length - b.length;
  return codePointRank(a.charCodeAt(i)) - codePointRank(b.charCodeAt(i));
}

const text: ColumnValues<string> = {
  memoAs: null,
  // PostgreSQL's text holds no NUL character.
  fromFilter: (value) => (value.includes('\u0000') ? undefined : value),
  fromRow: (value) => (typeof value === 'string' ? value : typeof value === 'number' || value instanceof ExactNumber ? String(value) : undefined),
  compare: compareCodePoints,
  key: (value) => value,
};

/** An enum's labels order as the type lists them, not as text. */
function enumValues(labels: readonly string[]): ColumnValues<number> {
  const rank = new Map(labels.map((label, i) => [label, i]));
  return {
    memoAs: null,
    fromFilter: (text) => rank.get(text),
    fromRow: (value) => (typeof value === 'string' ? rank.get(value) : undefined),
    compare: (a, b) => a - b,
    key: (value) => value,
  };
}

/** character(n) pads with spaces, and PostgreSQL compares it without them. */
const paddedText: ColumnValues<string> = {
  memoAs: null,
  fromFilter: (value) => value.replace(/ +$/, ''),
  fromRow: (value) => (typeof value === 'string' ? value.replace(/ +$/, '') : undefined),
  compare: compareCodePoints,
  key: (value) => value,
};

const INTEGER_BITS: Record<string, 16 | 32 | 64> = { smallint: 16, integer: 32, bigint: 64 };
const NUMERIC = /^numeric(\(\d+(,\s*-?\d+)?\))?$/;
const TIME = /^(timestamp(\(\d\))? with(out)? time zone|date)$/;
const TIME_OF_DAY = /^time(\(\d\))? with(out)? time zone$/;
/** interval(p), interval day to second…: a value compared with one is no interval(p) (PostgreSQL types `col = 'v'`'s literal without the modifier). */
const INTERVAL = /^interval\b/;
const CHARACTER = /^(character(\(\d+\))?|bpchar)$/;

/** The filter only hands a type's values back to the same type's functions. */
const untyped = <C>(values: ColumnValues<C>) => values as unknown as ColumnValues<unknown>;

/**
 * The values of a column, by the type format_type names (a domain's base
 * type; an array of domains as an array of their base type) and, for an enum
 * or an array of enums, its labels in order.
 */
export function columnValues(type: string, enumLabels: readonly string[] | null): ColumnValues<unknown> {
  // Arrays first: integer[] is an array, not an integer; an enum's labels are its elements'.
  if (type.endsWith('[]')) return untyped(arrayValues(type.slice(0, -2), columnValues(type.slice(0, -2), enumLabels)));
  if (enumLabels !== null) return untyped(enumValues(enumLabels));
  if (type === 'jsonb' || type === 'json') return untyped(jsonbValues);
  const bits = Object.hasOwn(INTEGER_BITS, type) ? INTEGER_BITS[type] : undefined;
  if (bits !== undefined) return untyped(integerValues(bits));
  if (NUMERIC.test(type)) return untyped(exact);
  if (type === 'real' || type === 'double precision') return untyped(float(type === 'real'));
  if (type === 'boolean') return untyped(boolean);
  if (TIME.test(type)) return untyped(time(type === 'date' ? 'date' : type.includes('without') ? 'timestamp' : 'timestamptz'));
  if (TIME_OF_DAY.test(type)) return untyped(timeOfDay(!type.includes('without')));
  if (type === 'uuid') return untyped(uuid);
  if (INTERVAL.test(type)) return untyped(interval);
  if (CHARACTER.test(type)) return untyped(paddedText);
  return untyped(text);
}

/**
 * Row values the filters read, shared by every subscription's filter, so a
 * timestamp is parsed and a json value written out once per change, not once
 * per subscriber. Keyed by the parsed row (one per change) and by how the
 * value was read: a column whose type changed is read afresh.
 */
export class RowValueMemo {
  private readonly byRow = new WeakMap<object, Map<string, unknown>>();

  read<C>(row: object, column: string, values: ColumnValues<C>, value: unknown): C | undefined {
    if (values.memoAs === null) return values.fromRow(value);
    let memo = this.byRow.get(row);
    if (!memo) this.byRow.set(row, (memo = new Map()));
    const key = `${values.memoAs}:${column}`;
    if (memo.has(key)) return memo.get(key) as C | undefined;
    const read = values.fromRow(value);
    memo.set(key, read);
    return read;
  }
}
