/**
 * real and double precision values as PostgreSQL reads them: decimal
 * literals through strtof / strtod (rounded once to the type), hexadecimal
 * floats, NaN and ±Infinity.
 */
import { decimalParts, ExactNumber, SPECIAL, SPECIAL_INPUT, trimCSpace, type DecimalParts } from './exact-number.js';

const HEX_FLOAT = /^([+-]?)0x(?=\.?[\da-f])([\da-f]*)(?:\.([\da-f]*))?(?:p([+-]?\d+))?$/i;

/**
 * A hexadecimal float ('0x1.8p3'), which real and double precision read through
 * strtod: rounded once, half to even, to the type's 24 or 53 significant bits
 * (fewer below its smallest normal); undefined past the type's range, as
 * PostgreSQL refuses it.
 */
function hexFloat(text: string, single: boolean): number | undefined {
  const m = HEX_FLOAT.exec(text);
  if (!m) return undefined;
  const [, sign, whole = '', fraction = '', power = '0'] = m;
  let mantissa = BigInt(`0x${whole + fraction || '0'}`);
  let exponent = Number(power) - 4 * fraction.length;
  const negative = sign === '-';
  if (mantissa === 0n) return negative ? -0 : 0;
  const [precision, minExponent] = single ? [24, -149] : [53, -1074];
  const bits = mantissa.toString(2).length;
  const shift = Math.max(0, bits - precision, minExponent - exponent);
  // Shifted past all its bits it rounds to zero, an underflow PostgreSQL refuses (and 1n << 1e10 cannot be built).
  if (shift > bits) return undefined;
  if (shift > 0) {
    const dropped = mantissa & ((1n << BigInt(shift)) - 1n);
    const half = 1n << BigInt(shift - 1);
    mantissa >>= BigInt(shift);
    if (dropped > half || (dropped === half && (mantissa & 1n) === 1n)) mantissa += 1n;
    exponent += shift;
  }
  const value = Number(mantissa) * 2 ** exponent;
  const limit = single ? 3.4028234663852886e38 : Number.MAX_VALUE;
  if (value === 0 || !(value <= limit)) return undefined;
  return negative ? -value : value;
}

/** Compares the magnitude of a non-zero decimal with a positive finite double, exactly. */
function compareMagnitudes({ digits, exponent }: DecimalParts, double: number): number {
  let mantissa = double;
  let power = 0;
  while (!Number.isInteger(mantissa)) {
    mantissa *= 2;
    power--;
  }
  // decimal = digits × 10^scale, double = mantissa × 2^power
  const scale = exponent - digits.length;
  let left = BigInt(digits);
  let right = BigInt(mantissa);
  if (scale >= 0) left *= 10n ** BigInt(scale);
  else right *= 10n ** BigInt(-scale);
  if (power >= 0) right *= 2n ** BigInt(power);
  else left *= 2n ** BigInt(-power);
  return left < right ? -1 : left > right ? 1 : 0;
}

const PAST_LARGEST_FLOAT = 2 ** 128;

/**
 * The real nearest a decimal, as strtof rounds it, given the double nearest
 * it and (only asked for when needed) its exact digits. Math.fround of the
 * double rounds twice: wrong when the double lands exactly halfway between
 * two reals that the decimal is not halfway between.
 */
function nearestReal(double: number, exact: () => DecimalParts): number {
  const single = Math.fround(double);
  if (single === double || Number.isNaN(double)) return single;
  // Halfway between `single` and the real `other` next to it? 2^128 stands for infinity past the largest real.
  const near = Number.isFinite(single) ? single : Math.sign(single) * PAST_LARGEST_FLOAT;
  const other = 2 * double - near;
  if (Math.fround(other) !== other || (near + other) / 2 !== double) return single;
  const side = compareMagnitudes(exact(), Math.abs(double));
  if (side === 0) return single;
  const [smaller, larger] = Math.abs(near) < Math.abs(other) ? [near, other] : [other, near];
  const chosen = side > 0 ? larger : smaller;
  return Math.abs(chosen) === PAST_LARGEST_FLOAT ? Math.sign(chosen) * Infinity : chosen;
}

/**
 * A filter value of a real (single) or double precision column, rounded as
 * PostgreSQL rounds it to the column's type; undefined when it is no number or
 * out of the type's range.
 */
export function parseFloatValue(text: string, single: boolean): number | undefined {
  const trimmed = trimCSpace(text);
  const special = SPECIAL_INPUT.get(trimmed.toLowerCase());
  if (special !== undefined) return special;
  if (/^[+-]?0x/i.test(trimmed)) return hexFloat(trimmed, single);
  const parts = decimalParts(trimmed);
  if (parts === undefined) return undefined;
  const n = single ? nearestReal(Number(trimmed), () => parts) : Number(trimmed);
  return Number.isFinite(n) && (n !== 0 || parts.sign === 0) ? n : undefined;
}

/** A row value of a real or double precision column; NaN and ±Infinity arrive as strings. */
export function floatOf(value: unknown, single: boolean): number | undefined {
  if (typeof value === 'string') return SPECIAL.get(value);
  if (typeof value === 'number') return single ? nearestReal(value, () => decimalParts(String(value)) as DecimalParts) : value;
  if (!(value instanceof ExactNumber)) return undefined;
  const double = Number(value.toString());
  return single ? nearestReal(double, () => value.decimal) : double;
}
