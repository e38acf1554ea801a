/**
 * Intervals compared as PostgreSQL compares them: by their length, a month
 * counted as 30 days and a day as 24 hours ('1 mon' equals '30 days'), to the
 * microsecond, with '-infinity' and 'infinity' at the ends. A value is read
 * the way PostgreSQL's interval input reads it: unit fields ('1 year 2 mons',
 * '1.5 weeks', '3 days ago'), hh:mm:ss, years-months ('1-2'), and ISO 8601
 * ('P1Y2M3DT4H5M6S', 'P0001-02-03T04:05:06'), fractions carried down to
 * smaller units with the same rounding. That covers what to_json writes in every
 * IntervalStyle: a row written in sql_standard style ('-3 4:05:06') is read
 * as that style means it, a leading sign applying to every field.
 */
import { trimCSpace } from '../capture/exact-number.js';
import { parseIso } from './interval-iso.js';
import { INFINITY, IntervalParts, rint, TIME_FIELDS, UNITS, USECS_PER_SECOND, type IntervalSpan, type Unit } from './interval-parts.js';

export type { IntervalSpan } from './interval-parts.js';

interface Field {
  /** '-' or '+' before a number, '' when none. */
  sign: string;
  number?: string;
  word?: string;
}

const NUMBER = /^(\d*)(?:(-)(\d+)|(\.\d*))?$/;
const CLOCK = /^(\d+):(\d+)(?::(\d+))?(\.\d*)?$/;
/** Keywords of dates that a number may follow without a space; of these only units and fillers mean anything in an interval. */
const RUN_ON_WORDS = new Set(['d', 'h', 'm', 'mm', 's', 'y', 'on', 'at']);
/** Fillers PostgreSQL skips ('1 day at', '1 day on'). */
const IGNORED_WORDS = new Set(['on', 'at']);
/** The spaces PostgreSQL's scanner skips (C's isspace): not a no-break space. */
const C_SPACE = /[ \t\n\v\f\r]/;
const DIGITS = /^\d*/;
const LETTERS = /^[a-z]*/i;

/** hh:mm[:ss][.f], or mm:ss.f: microseconds, or undefined when out of range. */
function clockMicros(text: string): bigint | undefined {
  const m = CLOCK.exec(text);
  if (!m) return undefined;
  const [, first = '', second = '', third, fraction] = m;
  // Without seconds, a fraction makes it minutes:seconds.
  const [h, mi, s] = third === undefined && fraction !== undefined ? ['0', first, second] : [first, second, third ?? '0'];
  if (Number(mi) > 59 || Number(s) > 60) return undefined;
  // Fractional seconds round half to even here, unlike unit fields.
  const micros = fraction === undefined || fraction === '.' ? 0 : rint(Number.parseFloat(fraction) * 1e6);
  return (BigInt(h) * 60n + BigInt(mi)) * 60n * USECS_PER_SECOND + BigInt(s) * USECS_PER_SECOND + BigInt(micros);
}

/**
 * Splits the input into fields as PostgreSQL's date/time scanner does:
 * numbers with what they carry (':', '.', a years-months '-'), words, a sign
 * that may stand apart from its number ('- 1 day'); other punctuation (',',
 * '@') only separates. A word may run into digits only if PostgreSQL's
 * date keywords hold it ('1y2m'); otherwise the scanner took it for a date
 * ('day1'), which no interval is.
 */
function scanFields(text: string): Field[] | undefined {
  const fields: Field[] = [];
  let i = 0;
  const take = (pattern: RegExp) => {
    const match = pattern.exec(text.slice(i))?.[0] ?? '';
    i += match.length;
    return match;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (C_SPACE.test(c)) {
      i++;
    } else if (/[\d.]/.test(c)) {
      fields.push({ sign: '', number: scanNumber() });
    } else if (/[a-z]/i.test(c)) {
      const word = take(LETTERS).toLowerCase();
      const next = text[i] ?? '';
      if (/[/.-]/.test(next) || (/[\d+]/.test(next) && !RUN_ON_WORDS.has(word))) return undefined;
      fields.push({ sign: '', word });
    } else if (c === '+' || c === '-') {
      i++;
      while (C_SPACE.test(text[i] ?? '')) i++;
      if (/\d/.test(text[i] ?? '')) fields.push({ sign: c, number: scanNumber(true) });
      else if (/[a-z]/i.test(text[i] ?? '')) fields.push({ sign: '', word: c + take(LETTERS).toLowerCase() });
      else return undefined;
    } else if (/[!-/:-@[-`{-~]/.test(c)) {
      i++;
    } else {
      return undefined;
    }
  }
  return fields;

  function scanNumber(signed = false): string {
    const start = i;
    const over = (pattern: RegExp) => {
      while (i < text.length && pattern.test(text[i]!)) i++;
    };
    if (signed) {
      // After a sign: digits with ':', '.' and '-' ('-04:05:06', '-1.5', '-1-2').
      over(/[\d:.-]/);
      return text.slice(start, i);
    }
    take(DIGITS);
    const delimiter = text[i];
    if (delimiter === ':') {
      over(/[\d:.]/);
    } else if (delimiter === '-' || delimiter === '/' || delimiter === '.') {
      i++;
      if (/\d/.test(text[i] ?? '')) {
        take(DIGITS);
        if (text[i] === delimiter) over(new RegExp(`[\\d${delimiter === '-' ? '\\-' : delimiter}]`));
      } else {
        over(new RegExp(`[a-z\\d${delimiter === '-' ? '\\-' : delimiter}]`, 'i'));
      }
    }
    return text.slice(start, i);
  }
}

/** Reads the fields right to left, as PostgreSQL does: a unit word names the number before it. */
function parseFields(text: string, row: boolean): IntervalSpan | undefined {
  const tokens = scanFields(text);
  if (!tokens || tokens.length === 0) return undefined;
  if (tokens.length === 1 && tokens[0]!.word !== undefined) {
    const word = tokens[0]!.word;
    return word === 'infinity' || word === '+infinity' ? INFINITY : word === '-infinity' ? -INFINITY : undefined;
  }
  // A row written in sql_standard style: one leading minus, no other sign, negates every field.
  const negateAll = row && tokens[0]!.sign === '-' && tokens.slice(1).every((t) => t.sign === '');
  const parts = new IntervalParts();
  const given = new Set<Unit>();
  const give = (units: readonly Unit[]) => units.every((unit) => !given.has(unit) && given.add(unit));
  let unit: Unit | null = null;
  let unitPending = false;
  let ago = false;
  for (let i = tokens.length - 1; i >= 0; i--) {
    const { sign, number, word } = tokens[i]!;
    if (word !== undefined) {
      if (IGNORED_WORDS.has(word)) {
        // Not between a unit and its number ('1 at day').
        if (unitPending) return undefined;
        continue;
      }
      if (word === 'ago' && i === tokens.length - 1) {
        ago = true;
        // A bare number right before "ago" has no unit ('2 ago' is refused).
        unit = 'quarter';
        continue;
      }
      const named = UNITS.get(word.slice(0, 10));
      if (named === undefined || unitPending) return undefined;
      unit = named;
      unitPending = true;
      continue;
    }
    const negative = sign === '-' || negateAll;
    if (number!.includes(':')) {
      const micros = clockMicros(number!);
      if (micros === undefined || !give(TIME_FIELDS)) return undefined;
      // It sets the time part, as PostgreSQL's does: fractions of units to its right are lost.
      parts.micros = negative ? -micros : micros;
      // A bare number before hh:mm:ss counts days ('1 2:00').
      unit = 'day';
      unitPending = false;
      continue;
    }
    const m = NUMBER.exec(number!);
    if (!m) return undefined;
    const [, digits = '', yearsMonths, months, fraction] = m;
    let whole = BigInt(digits || '0');
    let frac = fraction === undefined || fraction === '.' ? 0 : Number.parseFloat(fraction);
    if (yearsMonths !== undefined) {
      if (Number(months) > 11) return undefined;
      whole = whole * 12n + BigInt(months!);
      unit = 'month';
    }
    unit ??= 'second';
    if (unit === 'quarter') return undefined;
    if (negative) {
      whole = -whole;
      frac = -frac;
    }
    const fields: readonly Unit[] = unit === 'second' && frac !== 0 ? TIME_FIELDS.slice(2) : [unit];
    if (!give(fields) || !parts.add(unit, whole, frac)) return undefined;
    // An hour's number may be preceded by a bare number of days ('1 2 hours').
    if (unit === 'hour') unit = 'day';
    unitPending = false;
  }
  if (unitPending || given.size === 0) return undefined;
  if (ago) parts.negate();
  return parts.span();
}

/**
 * An interval's length, or undefined when the text is not an interval.
 * `row` reads it as to_json wrote it, in any IntervalStyle; otherwise as
 * PostgreSQL reads a literal in its default style (postgres).
 */
export function parseInterval(text: string, row = false): IntervalSpan | undefined {
  const trimmed = trimCSpace(text);
  if (trimmed.length > 1 && trimmed.startsWith('P')) return parseIso(trimmed);
  return parseFields(trimmed, row);
}

export function compareIntervals(a: IntervalSpan, b: IntervalSpan): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
