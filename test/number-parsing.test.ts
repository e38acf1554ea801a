/**
 * The number and fraction readers of filters against PostgreSQL's own input
 * functions, on a few thousand generated values (seeded, so a failure
 * repeats): a real or double precision value must round to the same bits,
 * a numeric value must be refused exactly when numeric refuses it, and
 * digits past the microsecond of a time must round to the same microsecond.
 * Reals are drawn next to the midpoints between two floats, where rounding
 * the double once more (Math.fround) picks the wrong one.
 */
import { parseNumeric } from '../src/capture/exact-number.js';
import { parseFloatValue } from '../src/capture/float-number.js';
import { parseTimeOfDay } from '../src/hub/time-of-day.js';
import { expect, test } from './support/fixtures.js';
import { postgresReads } from './support/postgres-input.js';
import { prng as seeded } from './support/workload.js';

/** The exact decimal text of a finite double. */
function exactDecimal(value: number): string {
  let mantissa = Math.abs(value);
  let power = 0;
  while (!Number.isInteger(mantissa)) {
    mantissa *= 2;
    power++;
  }
  const sign = value < 0 ? '-' : '';
  if (power === 0) return sign + BigInt(mantissa).toString();
  const digits = (BigInt(mantissa) * 5n ** BigInt(power)).toString().padStart(power + 1, '0');
  return `${sign}${digits.slice(0, -power)}.${digits.slice(-power)}`;
}

function float32FromBits(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits);
  return view.getFloat32(0);
}

/** Big-endian hex of the value's bits, as float4send / float8send give it (bytea text: \x…). */
function bitsHex(value: number, single: boolean): string {
  const view = new DataView(new ArrayBuffer(single ? 4 : 8));
  if (single) view.setFloat32(0, value);
  else view.setFloat64(0, value);
  return `\\x${[...new Uint8Array(view.buffer)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Decimals at, just below and just above midpoints between adjacent reals, and random ones. */
function realTexts(count: number): string[] {
  const random = seeded(20261204);
  const texts: string[] = ['340282356779733661637539395458142568447', '340282356779733661637539395458142568448', '3.4028235677973366e38', '1e-46', '7.006492321624085e-46', '1.401298464324817e-45'];
  for (let k = 0; texts.length < count; k++) {
    // Any positive finite real but the largest, then the one after it (bits + 1).
    const bits = Math.floor(random() * 0x7f7fffff);
    const below = float32FromBits(bits);
    const midpoint = exactDecimal((below + float32FromBits(bits + 1)) / 2);
    const tail = '0'.repeat(1 + Math.floor(random() * 20));
    const sign = random() < 0.2 ? '-' : '';
    const pointed = midpoint.includes('.') ? midpoint : `${midpoint}.`;
    texts.push(sign + midpoint, `${sign}${pointed}${tail}1`, sign + justBelow(midpoint, tail.length));
    if (k % 3 === 0) texts.push(`${sign}${Math.floor(random() * 1e9)}e${Math.floor(random() * 90) - 50}`);
  }
  return texts;
}

/** A decimal a hair below a positive one: its digits minus one in a place past its last. */
function justBelow(decimal: string, extra: number): string {
  const [whole, fraction = ''] = decimal.split('.');
  const digits = BigInt(whole + fraction + '0'.repeat(extra + 1)) - 1n;
  const scale = fraction.length + extra + 1;
  const text = digits.toString().padStart(scale + 1, '0');
  return `${text.slice(0, -scale)}.${text.slice(-scale)}`;
}

function doubleTexts(count: number): string[] {
  const random = seeded(7);
  const texts: string[] = ['1e-324', '2.4703282292062328e-324', '2.4703282292062327e-324', '1.7976931348623158e308', '1.7976931348623159e308'];
  while (texts.length < count) {
    const digits = Array.from({ length: 1 + Math.floor(random() * 25) }, () => Math.floor(random() * 10)).join('');
    texts.push(`${random() < 0.2 ? '-' : ''}${digits}e${Math.floor(random() * 660) - 345}`);
  }
  return texts;
}

function numericTexts(count: number): string[] {
  const random = seeded(16383);
  const texts: string[] = [];
  while (texts.length < count) {
    const whole = random() < 0.3 ? '0' : String(Math.floor(random() * 1000));
    const fraction = '0'.repeat(Math.floor(random() * 3)) + String(Math.floor(random() * 100)) + '0'.repeat(Math.floor(random() * 3));
    const exponent = random() < 0.5 ? -16383 + Math.floor(random() * 8) - 4 : 131072 + Math.floor(random() * 8) - 6;
    texts.push(`${whole}.${fraction}e${exponent}`);
  }
  texts.push('0e1073741823', '0e1073741824', '0e-1073741824', '1e-16383', '0.0e-16383');
  return texts;
}

function fractionTexts(count: number): string[] {
  const random = seeded(1_000_000);
  const texts: string[] = [];
  while (texts.length < count) {
    const micros = String(Math.floor(random() * 1_000_000)).padStart(6, '0');
    const past = ['5', '50', '49', '51', '4999', '5001', String(Math.floor(random() * 1000))][Math.floor(random() * 7)];
    texts.push(`${String(Math.floor(random() * 24)).padStart(2, '0')}:59:59.${micros}${past}`);
  }
  return texts;
}

test('real and double precision filter values round to the bits PostgreSQL gives them; numeric refuses what numeric refuses', { timeout: 60_000 }, async ({ database }) => {
  /** Each text's bits as PostgreSQL and as Rowcast read it, side by side; returns PostgreSQL's. */
  const sameBits = async (texts: string[], single: boolean) => {
    const want = await postgresReads(database, single ? 'float4send(v::real)::text' : 'float8send(v::double precision)::text', texts);
    const got = texts.map((text) => {
      const value = parseFloatValue(text, single);
      return value === undefined ? null : bitsHex(value, single);
    });
    expect(got.map((bits, i) => [texts[i], bits])).toEqual(want.map((bits, i) => [texts[i], bits]));
    return want;
  };
  const wantReals = await sameBits(realTexts(3000), true);
  // Not vacuous: midpoints round both ways, and some values are out of range.
  expect(new Set(wantReals).size).toBeGreaterThan(1000);
  expect(wantReals).toContain(null);
  await sameBits(doubleTexts(2000), false);

  const numerics = numericTexts(600);
  const wantNumerics = await postgresReads(database, "case when v::numeric is null then null else 'held' end", numerics);
  const gotNumerics = numerics.map((text) => (parseNumeric(text) === undefined ? null : 'held'));
  expect(gotNumerics.map((got, i) => [numerics[i], got])).toEqual(wantNumerics.map((want, i) => [numerics[i], want]));
  expect(new Set(wantNumerics).size).toBe(2);
});

test('digits past the microsecond round as PostgreSQL rounds them', async ({ database }) => {
  const times = fractionTexts(2000);
  const want = await postgresReads(database, '(extract(epoch from v::time) * 1000000)::bigint::text', times);
  const got = times.map((text) => {
    const time = parseTimeOfDay(text, false);
    return time === undefined ? null : String(time.micros);
  });
  expect(got.map((micros, i) => [times[i], micros])).toEqual(want.map((micros, i) => [times[i], micros]));
  // Not vacuous: the generated fractions sit on halves, where the rounding rule decides.
  expect(times.filter((text) => /\d{6}5$/.test(text)).length).toBeGreaterThan(100);
});
