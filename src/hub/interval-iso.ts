/**
 * ISO 8601 intervals as PostgreSQL reads them: the format with designators
 * (P1Y2M3W4DT5H6M7.5S, any field signed or fractional, a week beside other
 * fields) and the alternative format, extended (P0001-02-03T04:05:06) or
 * basic (P00010203T040506), fractions carried down as in the other forms.
 */
import { IntervalParts, type IntervalSpan, type Unit } from './interval-parts.js';

const ISO_NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?/i;
const DATE_UNITS: Readonly<Record<string, Unit>> = { Y: 'year', M: 'month', W: 'week', D: 'day' };
const TIME_UNITS: Readonly<Record<string, Unit>> = { H: 'hour', M: 'minute', S: 'second' };

interface IsoNumber {
  whole: bigint;
  /** What the number has past its integer part, |fraction| < 1. */
  fraction: number;
  /** Digits before the point: 8 or 6 mark the basic alternative format. */
  width: number;
}

export function parseIso(text: string): IntervalSpan | undefined {
  const parts = new IntervalParts();
  let i = 1;
  let datePart = true;
  /** A designated field was read in this part: the alternative format cannot follow it. */
  let designated = false;
  const number = (): IsoNumber | undefined => {
    const literal = ISO_NUMBER.exec(text.slice(i))?.[0];
    if (literal === undefined) return undefined;
    i += literal.length;
    const value = Number.parseFloat(literal);
    if (!(Math.abs(value) <= 1e15)) return undefined;
    const whole = Math.trunc(value);
    return { whole: BigInt(whole), fraction: value - whole, width: /^-?(\d*)/.exec(literal)![1]!.length };
  };
  const add = (unit: Unit, n: IsoNumber | undefined) => n !== undefined && parts.add(unit, n.whole, n.fraction);
  const atEnd = () => i >= text.length;
  while (!atEnd()) {
    if (text[i] === 'T') {
      datePart = false;
      designated = false;
      i++;
      continue;
    }
    const n = number();
    if (n === undefined) return undefined;
    const unit = text[i] ?? '';
    i++;
    const named = (datePart ? DATE_UNITS : TIME_UNITS)[unit];
    if (named !== undefined) {
      if (!add(named, n)) return undefined;
      designated = true;
      continue;
    }
    if (designated) return undefined;
    if (datePart) {
      if ((unit === 'T' || unit === '') && n.width === 8) {
        // Basic: YYYYMMDD, a fraction of the last day.
        const ok = parts.add('year', n.whole / 10000n, 0) && parts.add('month', (n.whole / 100n) % 100n, 0) && parts.add('day', n.whole % 100n, n.fraction);
        if (!ok) return undefined;
        datePart = false;
        continue;
      }
      // Extended: Y[-M[-D]], each part ending it or followed by the time.
      if ((unit !== 'T' && unit !== '' && unit !== '-') || !add('year', n)) return undefined;
      if (unit !== '-') {
        datePart = false;
        continue;
      }
      if (!add('month', number())) return undefined;
      if (atEnd() || text[i] === 'T') continue;
      if (text[i] !== '-') return undefined;
      i++;
      if (!add('day', number())) return undefined;
      if (!atEnd() && text[i] !== 'T') return undefined;
      continue;
    }
    if (unit === '' && n.width === 6) {
      // Basic: HHMMSS, a fraction counted in microseconds (as PostgreSQL counts it).
      const ok =
        parts.add('hour', n.whole / 10000n, 0) && parts.add('minute', (n.whole / 100n) % 100n, 0) && parts.add('second', n.whole % 100n, 0) && parts.add('microsecond', 0n, n.fraction);
      return ok ? parts.span() : undefined;
    }
    // Extended: H[:M[:S]].
    if ((unit !== ':' && unit !== '') || !add('hour', n)) return undefined;
    if (unit === '') break;
    if (!add('minute', number())) return undefined;
    if (atEnd()) break;
    if (text[i] !== ':') return undefined;
    i++;
    if (!add('second', number()) || !atEnd()) return undefined;
  }
  return parts.span();
}
