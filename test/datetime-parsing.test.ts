/**
 * The date and timestamp readers of filters against PostgreSQL's own input,
 * on a few thousand generated ISO 8601 values (seeded, so a failure repeats):
 * calendars' edges, the ends of each type's range, offsets that carry a value
 * past them, leap seconds, 24:00, BC and digits past the microsecond. Every
 * value PostgreSQL reads must denote the same instant here, every value it
 * refuses must be refused.
 */
import { parseInstant, type TimeType } from '../src/hub/instant.js';
import { parseTimeOfDay } from '../src/hub/time-of-day.js';
import { expect, test } from './support/fixtures.js';
import { postgresReads } from './support/postgres-input.js';
import { prng } from './support/workload.js';

function ours(text: string, type: TimeType): string | null {
  const instant = parseInstant(text, type);
  return instant === undefined ? null : (BigInt(instant.seconds) * 1_000_000n + BigInt(instant.micros)).toString();
}

function generated(count: number): string[] {
  const random = prng(4714);
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const two = (n: number) => String(n).padStart(2, '0');
  const texts: string[] = [];
  while (texts.length < count) {
    const year = pick([1970, 2000, 2024, 1900, 2100, 1, 9999, 10000, 294276, 294277, 5874897, 5874898, 4713, 4714, 4715, 44]);
    const month = pick([1, 2, 11, 12, 13, 0, 6]);
    const day = pick([1, 23, 24, 25, 28, 29, 30, 31, 32, 0]);
    let text = `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}`;
    if (random() < 0.8) {
      text += `${pick(['T', ' '])}${two(pick([0, 1, 12, 23, 24, 25]))}:${two(pick([0, 30, 59, 60]))}`;
      // A fraction only after seconds: PostgreSQL reads `12:30.5` as minutes and seconds, which filters refuse.
      if (random() < 0.8) {
        text += `:${two(pick([0, 30, 59, 60, 61]))}`;
        if (random() < 0.5) text += `.${String(Math.floor(random() * 1e9)).padStart(9, '0').slice(0, 1 + Math.floor(random() * 9))}${pick(['', '5', '9999995'])}`;
      }
      text += pick(['', 'Z', '+00', '-05', '+05:30', '+0530', '-15:59:59', '+15:59', '+16', '-01', '+01:00:01']);
    }
    if (year >= 4713 && year <= 4715 && random() < 0.7) text += ' BC';
    if (year === 44 && random() < 0.5) text += ' BC';
    texts.push(text);
  }
  return texts;
}

test('dates and timestamps are read as PostgreSQL reads them, to the ends of their range', { timeout: 60_000 }, async ({ database }) => {
  const texts = [...generated(3000), 'infinity', '-infinity', '4714-11-24 BC', '4714-11-23 BC', '294276-12-31T23:59:59.9999995', '294276-12-31T23:59:59.9999994'];
  for (const type of ['timestamptz', 'timestamp', 'date'] as const) {
    // From 2000, where PostgreSQL counts: extract(epoch) rounds through a double past 2^63 µs from 1970.
    const micros = type === 'date' ? "((v::date - date '1970-01-01')::numeric * 86400000000)" : `(extract(epoch from v::${type} - ${type} '2000-01-01 00:00+00') * 1000000 + 946684800000000)`;
    const want = (await postgresReads(database, `${micros}::numeric(30,0)::text`, texts)).map((micros, i) => [texts[i], texts[i]!.endsWith('infinity') ? 'infinite' : micros]);
    const got = texts.map((text) => [text, text.endsWith('infinity') ? (parseInstant(text, type) ? 'infinite' : null) : ours(text, type)]);
    expect({ type, values: got }).toEqual({ type, values: want });
    // Not vacuous: many values read, many refused.
    expect(want.filter(([, micros]) => micros === null).length).toBeGreaterThan(300);
    expect(want.filter(([, micros]) => micros !== null).length).toBeGreaterThan(300);
  }
});

test('times of day, with and without an offset, are read as PostgreSQL reads them', async ({ database }) => {
  const random = prng(86400);
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const two = (n: number) => String(n).padStart(2, '0');
  const texts: string[] = [];
  while (texts.length < 3000) {
    let text = `${pick([0, 1, 9, 12, 23, 24, 25])}:${two(pick([0, 1, 30, 59, 60]))}`;
    if (random() < 0.8) {
      text += `:${two(pick([0, 1, 30, 59, 60, 61]))}`;
      if (random() < 0.6) text += `.${String(Math.floor(random() * 1e9)).padStart(9, '0').slice(0, 1 + Math.floor(random() * 9))}${pick(['', '5', '9999995'])}`;
    }
    texts.push(text + pick(['', 'Z', '+00', '-05', '+5', '+05:30', '+0530', '-15:59:59', '+15:59', '+16', '-1:00', '+01:00:01']));
  }
  const want = await postgresReads(database, "(extract(epoch from v::time) * 1000000)::bigint || ' ' || (extract(epoch from v::timetz) * 1000000)::bigint || ' ' || extract(timezone from v::timetz)", texts);
  const got = texts.map((text) => {
    const time = parseTimeOfDay(text, false);
    const zoned = parseTimeOfDay(text, true);
    return time === undefined || zoned === undefined ? null : `${time.micros} ${zoned.micros - zoned.offset * 1_000_000} ${zoned.offset}`;
  });
  expect(got.map((answer, i) => [texts[i], answer])).toEqual(want.map((answer, i) => [texts[i], answer]));
  expect(want.filter((answer) => answer === null).length).toBeGreaterThan(300);
  expect(want.filter((answer) => answer !== null).length).toBeGreaterThan(300);
});
