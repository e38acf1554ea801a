/**
 * The interval reader against PostgreSQL's own interval input, on a fixed
 * list of tricky spellings and a few thousand generated ones (seeded, so a
 * failure repeats): every value PostgreSQL reads must have the same length
 * here, every value it refuses must be refused, and every value it writes in
 * any IntervalStyle must be read back at its length. The one deliberate
 * difference (README "Filters") is asserted as such.
 */
import { parseInterval } from '../src/hub/interval.js';
import { INFINITY } from '../src/hub/interval-parts.js';
import { expect, test } from './support/fixtures.js';

/** The length PostgreSQL gives an interval, in microseconds, a month as 30 days; undefined when it refuses the text. */
const LENGTH = `case when i = 'infinity' then 'infinity' when i = '-infinity' then '-infinity' else
  ((extract(year from i) * 12 + extract(month from i)) * 30 * 86400000000 + extract(day from i) * 86400000000
   + extract(hour from i) * 3600000000 + extract(minute from i) * 60000000 + extract(microseconds from i))::numeric::text end`;

const ours = (text: string, row = false): string | undefined => {
  const span = parseInterval(text, row);
  return span === undefined ? undefined : span === INFINITY ? 'infinity' : span === -INFINITY ? '-infinity' : span.toString();
};

const FIXED = [
  '1day', '.5 day', '5.', '1.5 years', '-1.5 years', '1.04166666666666666 years', '0.5 mon', '1.5 w', '1 mon', '30 days',
  '-3 4:05:06', '- 3 4:05', '1 -2:00', '-1 +2:00', '5', '+ 5', '- 1 day', '1 2', '1 2 hours', '1 hour 2', '1 2 mins', '3 4:05',
  'infinity', '+infinity', '-infinity', 'infinity ago', '@ infinity', '@ 1 day ago', '1 day ago ago', 'ago', '2 ago', '1:2:3 ago',
  '1:2.5', '1:60', '1:59:60', '1:59:59.9999999', '100:00:00', '1:2:3:4', '75:30.5', '2:75', '10:00 hours', '1 hours 10:00',
  '1 day, 2 hours', '@1 day', '1 day @', '1 day on', '1.5.3', '1-2', '-1-2', '-0-2', '1-12', '1-2-3', '1-2 days', '1-2 3 years', '1-2 qtr', '1 qtr',
  '1 sec 5 ms', '1.5 sec 5 ms', '0.0000005 sec', '0.0000015 sec', '2.5 us', 'microseconds', '1 microsecondss', '1 millisecondsXYZ',
  '1 yearss', '2147483647 days', '2147483648 days', '178956970 years', '178956971 years', '9223372036854775807 us', '9223372036854775808 us',
  '1 day2 hours', '1days', 'day1', '5 mm', '0.1 mons 12:34:56.789012 0.1 day', '10:00:00.5 -0.5 d ago', '1 décennie',
  '1\u00a0day', '\t1 day\n', '1 day\u00a0', '\u20031 day', '1y2m', '1d2h', '1h30m', '5mm', '1m+2s', 'd1', 'y1', 'day1', 'on1', '1 day at', '1 at day', 'at', '1s1s', 'x1', 'jan1', '1 day+2h', '1d-2h',
  'P0001-02-03T04:05:06', 'P1', 'P0001-02', 'P00010203T040506', 'P00010203', 'PT040506', 'PT040506.5', 'P1-2-3T4:5:6.5', 'P1.5-2', 'P-1-2-3',
  'P1-2-3T4:5', 'PT4:5:6:7', 'P1-2-3-4', 'P1DT4:05', 'PT1H4:05', 'P1-2T', 'P1-2-3T', 'P00010203T', 'P12345678T040506.25', 'P1:2',
  'P1.5Y', 'P1DT', 'PT', 'P', 'p1d', 'PT1.5H', 'P-1.5D', 'P1D2H', 'P1e2D', 'PT1HT2M', 'P1Y2M3W4DT5H6M7.5S', 'P-1Y-2M3DT-4H-5M-6.789S', 'PT-0.5S',
];

/** mulberry32: a small seeded generator, so a failing input is generated again on the next run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generated(count: number): string[] {
  const random = seeded(20261203);
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const units = ['us', 'ms', 'msec', 'sec', 's', 'second', 'min', 'm', 'mins', 'h', 'hour', 'hrs', 'd', 'day', 'days', 'w', 'week', 'mon', 'mons', 'month',
    'y', 'year', 'years', 'dec', 'decade', 'c', 'century', 'mil', 'millennium', 'microseconds', 'milliseconds', 'qtr', 'ago', '@', ',', 'x'];
  const numbers = ['0', '1', '2', '12', '-1', '+3', '1.5', '-2.25', '.5', '5.', '0.0000005', '0.0000015', '1.000000499', '2.5', '-0.5', '1-2', '-1-11',
    '1-12', '2147483647', '2147483648', '9223372036854775807', '100000000000', '0.1', '1e3'];
  const times = ['1:00', '-1:00', '+01:02:03', '10:00:00.5', '1:2.5', '1:59:60', '1:60', '100:00:00', '-0:00:00.0000005', '12:34:56.789012', '0:0:0.9999995'];
  const isoNumbers = ['0', '1', '-1', '1.5', '-0.5', '.5', '1e2', '2147483647', '100'];
  const inputs: string[] = [];
  for (let k = 0; k < count; k++) {
    const fields: string[] = [];
    const n = 1 + Math.floor(random() * 4);
    for (let j = 0; j < n; j++) {
      const r = random();
      if (r < 0.6) fields.push(pick(numbers) + (random() < 0.75 ? ' ' : '') + pick(units));
      else if (r < 0.8) fields.push(pick(times));
      else fields.push(pick(numbers));
    }
    if (random() < 0.12) fields.push('ago');
    if (random() < 0.1) fields.unshift('@');
    inputs.push(fields.join(' '));
    let iso = 'P';
    for (const unit of ['Y', 'M', 'W', 'D']) if (random() < 0.5) iso += pick(isoNumbers) + unit;
    if (random() < 0.5) {
      iso += 'T';
      for (const unit of ['H', 'M', 'S']) if (random() < 0.5) iso += pick(isoNumbers) + unit;
    }
    inputs.push(iso);
    // The alternative format, extended or basic, sometimes malformed.
    const digits = (n: number) => String(Math.floor(random() * 10 ** n)).padStart(n, '0');
    const date = pick([`${digits(4)}-${digits(2)}-${digits(2)}`, `${digits(4)}-${digits(2)}`, digits(4), digits(8), `-${digits(4)}-${digits(2)}`, `${digits(1)}.5-${digits(2)}`, `${digits(4)}-${digits(2)}-${digits(2)}-1`]);
    const time = pick(['', `T${digits(2)}:${digits(2)}:${digits(2)}`, `T${digits(2)}:${digits(2)}`, `T${digits(6)}`, `T${digits(6)}.${digits(3)}`, `T${digits(2)}:${digits(2)}:${digits(2)}.${digits(2)}`, `T${digits(2)}`, 'T']);
    inputs.push(`P${date}${time}`);
  }
  return inputs;
}

test('filter values: the same length as PostgreSQL gives them, or refused as PostgreSQL refuses them', async ({ database }) => {
  const lengthInPostgres = async (text: string) => {
    try {
      return (await database.query<{ s: string }>(`select ${LENGTH} as s from (select $1::interval as i) x`, [text])).rows[0]!.s;
    } catch {
      return undefined;
    }
  };
  const differences: Array<{ text: string; postgres: string | undefined; rowcast: string | undefined }> = [];
  let read = 0;
  let readAlternative = 0;
  for (const text of [...FIXED, ...generated(1500)]) {
    const [postgres, rowcast] = [await lengthInPostgres(text), ours(text)];
    if (postgres !== undefined) read++;
    if (postgres !== undefined && /^P-?\d[\d.]*[-T]?(\d|$)/.test(text) && !/[YMWDHS]/.test(text)) readAlternative++;
    if (postgres !== rowcast) differences.push({ text, postgres, rowcast });
  }
  expect(differences).toEqual([]);
  // Both outcomes are exercised: many inputs are intervals, many are not.
  expect(read).toBeGreaterThan(1000);
  expect(readAlternative).toBeGreaterThan(300);

});

test('row values: what to_json writes in each IntervalStyle is read at its length', async ({ database }) => {
  const client = await database.pool.connect();
  const differences: Array<{ style: string; written: string; postgres: string; rowcast: string | undefined }> = [];
  let rows = 0;
  try {
    for (const style of ['postgres', 'postgres_verbose', 'sql_standard', 'iso_8601']) {
      await client.query(`set intervalstyle = ${style}`);
      for (const text of [...FIXED, ...generated(400)]) {
        let written: string;
        let postgres: string;
        try {
          ({ written, s: postgres } = (await client.query(`select to_json(i)#>>'{}' as written, ${LENGTH} as s from (select $1::interval as i) x`, [text])).rows[0]);
        } catch {
          continue;
        }
        rows++;
        const rowcast = ours(written, true);
        if (rowcast !== postgres) differences.push({ style, written, postgres, rowcast });
      }
    }
  } finally {
    await client.query('reset intervalstyle');
    client.release();
  }
  expect(differences).toEqual([]);
  expect(rows).toBeGreaterThan(1500);
});
