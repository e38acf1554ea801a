/**
 * jsonb, json and array columns. jsonb compares by value, as jsonb's `=`
 * does; json, which has no `=` in PostgreSQL, compares as its jsonb value;
 * arrays compare as an array's `=` does, element by element. Filter values
 * are JSON, read as PostgreSQL reads them: jsonb refuses what it cannot
 * hold, an array's elements are read as values of the element type.
 */
import { isLosslessNumber, LosslessNumber, parse, stringify } from 'lossless-json';
import { ExactNumber, exactNumber, numericHolds } from '../capture/exact-number.js';
import type { ColumnValues } from './column-values.js';

/** What no PostgreSQL text holds: a NUL, a lone surrogate (jsonb refuses `"\u0000"` and `"\ud800"`). */
const UNHOLDABLE = /\u0000|\p{Cs}/u;

/**
 * A filter value parsed as JSON, numbers read by `number` from their literal
 * text; undefined when it is no JSON or has a string or key no text holds.
 */
function parseFilterJson(text: string, number: (literal: string) => unknown): unknown {
  try {
    return parse(
      text,
      (key, value) => {
        if (UNHOLDABLE.test(key) || (typeof value === 'string' && UNHOLDABLE.test(value))) throw new RangeError('not text');
        return value;
      },
      // As jsonb: the last of duplicate keys wins.
      { parseNumber: number, onDuplicateKey: ({ newValue }) => newValue },
    );
  } catch {
    return undefined;
  }
}

/** A number as jsonb reads it, with numeric's input: one numeric cannot hold refuses the value. */
function jsonbNumber(literal: string): unknown {
  if (!numericHolds(literal)) throw new RangeError('out of numeric range');
  return exactNumber(literal);
}

/**
 * jsonb equality is by value: keys in any order, numbers by their value
 * (`1.0` equals `1`). Written out canonically, equal values give equal text.
 */
function canonicalJson(value: unknown): string {
  if (value instanceof ExactNumber) return value.toString();
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** jsonb, and json as its jsonb value. */
export const jsonbValues: ColumnValues<string> = {
  memoAs: 'jsonb',
  fromFilter: (text) => {
    const value = parseFilterJson(text, jsonbNumber);
    return value === undefined ? undefined : canonicalJson(value);
  },
  // A row's JSON writes SQL NULL and a json null alike: both are NULL here.
  fromRow: (value) => (value === null || value === undefined ? undefined : canonicalJson(value)),
  compare: null,
  key: (value) => value,
};

/**
 * An array compares as PostgreSQL's array `=` does: the same shape, each
 * element equal as values of its type are ('{1.0}' equals '{1}' in a
 * numeric[]), NULL elements equal to each other. Both sides are JSON arrays,
 * as to_json writes them; a filter's elements are read as filter values of
 * the element type from their JSON text (a number as written: `2.0` is no
 * integer), so one PostgreSQL could not cast refuses the filter.
 */
export function arrayValues(elementType: string, element: ColumnValues<unknown>): ColumnValues<string> {
  const keyOf = (value: unknown, read: (item: unknown) => unknown): string | undefined => {
    if (value === null) return 'null';
    if (Array.isArray(value)) {
      const items = value.map((item) => keyOf(item, read));
      return items.includes(undefined) ? undefined : `[${items.join(',')}]`;
    }
    const item = read(value);
    if (item === undefined) return undefined;
    const key = element.key(item);
    return `${typeof key}:${typeof key === 'string' ? JSON.stringify(key) : String(key)}`;
  };
  // Element text as json_array_elements_text gives it: a string unquoted, a number as its literal.
  const filterItemText = (item: unknown) => (typeof item === 'string' ? item : isLosslessNumber(item) ? item.value : (stringify(item) ?? 'null'));
  return {
    // By element type: a column whose element type changed is read afresh.
    memoAs: `array:${elementType}`,
    fromFilter: (text) => {
      const value = parseFilterJson(text, (literal) => new LosslessNumber(literal));
      return Array.isArray(value) ? keyOf(value, (item) => element.fromFilter(filterItemText(item))) : undefined;
    },
    fromRow: (value) => (Array.isArray(value) ? keyOf(value, (item) => element.fromRow(item)) : undefined),
    compare: null,
    key: (value) => value,
  };
}
