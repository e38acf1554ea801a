/**
 * The fields of an interval as PostgreSQL's interval input adds them up:
 * years, months, days and microseconds kept apart, fractions carried down to
 * the next smaller field with PostgreSQL's rounding, each field range-checked
 * at every step. Its length counts a month as 30 days and a day as 24 hours.
 */
/** The interval's length in microseconds; the infinities lie beyond any finite length. */
export type IntervalSpan = bigint;

export const INFINITY: IntervalSpan = 10n ** 30n;
export const USECS_PER_SECOND = 1_000_000n;
const USECS_PER_DAY = 86_400n * USECS_PER_SECOND;
const INT32_MAX = 2 ** 31 - 1;
const INT64_MAX = 2n ** 63n - 1n;

export type Unit = 'quarter' | 'microsecond' | 'millisecond' | 'second' | 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year' | 'decade' | 'century' | 'millennium';

/** PostgreSQL's unit words; it compares only the first 10 letters of a word. */
export const UNITS = new Map<string, Unit>(
  (
    [
      ['microsecond', 'us usec usecs usecond useconds microsecon'],
      ['millisecond', 'ms msec msecs msecond mseconds millisecon'],
      ['second', 's sec secs second seconds'],
      ['minute', 'm mm min mins minute minutes'],
      ['hour', 'h hr hrs hour hours'],
      ['day', 'd day days'],
      ['week', 'w week weeks'],
      ['month', 'mon mons month months'],
      ['year', 'y yr yrs year years'],
      ['decade', 'dec decs decade decades'],
      ['century', 'c cent century centuries'],
      ['millennium', 'mil mils millennium millennia'],
      // A unit word PostgreSQL knows but counts nothing in (unless a years-months number overrides it).
      ['quarter', 'qtr quarter'],
    ] as const
  ).flatMap(([unit, words]) => words.split(' ').map((word) => [word, unit] as const)),
);

/** Microseconds in one of a unit counted in the time part. */
const MICROS: Partial<Record<Unit, bigint>> = {
  microsecond: 1n,
  millisecond: 1000n,
  second: USECS_PER_SECOND,
  minute: 60n * USECS_PER_SECOND,
  hour: 3600n * USECS_PER_SECOND,
};
const YEARS: Partial<Record<Unit, number>> = { year: 1, decade: 10, century: 100, millennium: 1000 };

/** The fields given so far, so that none is given twice ('1 hour 2 hours' is refused). */
export const TIME_FIELDS: readonly Unit[] = ['hour', 'minute', 'second', 'millisecond', 'microsecond'];

export class IntervalParts {
  years = 0;
  months = 0;
  days = 0;
  micros = 0n;

  /**
   * Adds the integer part `whole` and the fraction `fraction` (|fraction| < 1)
   * of `unit`s; false when a field leaves its range, as PostgreSQL checks at
   * every step (32-bit years, months and days, 64-bit microseconds).
   */
  add(unit: Unit, whole: bigint, fraction: number): boolean {
    const micros = MICROS[unit];
    if (micros !== undefined) {
      this.micros += whole * micros;
      if (!fitsInt64(this.micros)) return false;
      this.fractionOfMicros(fraction, Number(micros));
    } else {
      if (!fitsInt32(whole)) return false;
      const n = Number(whole);
      const years = YEARS[unit];
      if (years !== undefined) {
        this.years += n * years;
        // Fractions of years become whole months, rounded; smaller parts are dropped.
        this.months += rint(fraction * years * 12);
      } else if (unit === 'month') {
        this.months += n;
        this.fractionOfDays(fraction, 30);
      } else {
        this.days += unit === 'week' ? n * 7 : n;
        if (unit === 'week') this.fractionOfDays(fraction, 7);
        else this.fractionOfMicros(fraction, Number(USECS_PER_DAY));
      }
    }
    return fitsInt32(this.years) && fitsInt32(this.months) && fitsInt32(this.days) && fitsInt64(this.micros);
  }

  private fractionOfDays(fraction: number, scale: number): void {
    if (fraction === 0) return;
    const days = fraction * scale;
    this.days += Math.trunc(days);
    this.fractionOfMicros(days - Math.trunc(days), Number(USECS_PER_DAY));
  }

  /** Rounds half a microsecond toward zero, as PostgreSQL does for unit fields. */
  private fractionOfMicros(fraction: number, scale: number): void {
    if (fraction === 0) return;
    const scaled = fraction * scale;
    let micros = Math.trunc(scaled);
    const rest = scaled - micros;
    if (rest > 0.5) micros += 1;
    else if (rest < -0.5) micros -= 1;
    this.micros += BigInt(micros);
  }

  negate(): void {
    this.years = -this.years;
    this.months = -this.months;
    this.days = -this.days;
    this.micros = -this.micros;
  }

  span(): IntervalSpan | undefined {
    const months = this.years * 12 + this.months;
    if (!fitsInt32(months)) return undefined;
    return (BigInt(months) * 30n + BigInt(this.days)) * USECS_PER_DAY + this.micros;
  }
}

function fitsInt32(n: number | bigint): boolean {
  return n >= -INT32_MAX - 1 && n <= INT32_MAX;
}

function fitsInt64(n: bigint): boolean {
  return n >= -INT64_MAX - 1n && n <= INT64_MAX;
}

/** C's rint: to the nearest integer, halves to even. */
export function rint(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest !== 0.5) return Math.round(x);
  return floor % 2 === 0 ? floor : floor + 1;
}
