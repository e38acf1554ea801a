/**
 * Numbers compared as PostgreSQL compares them. A value is held as a JS
 * number when that double is exactly the decimal value written (its shortest
 * form denotes the same value: 42, 10.50, 0.1), else as an ExactNumber of its
 * digits (9007199254740993, 0.10000000000000001). So two numbers are equal
 * only if their values are, and the common case stays a double comparison.
 * NaN equals NaN and sorts above Infinity, as in PostgreSQL.
 */

/** value = sign × 0.digits × 10^exponent; digits without leading or trailing zeros ('' for zero). */
export interface DecimalParts {
  sign: -1 | 0 | 1;
  digits: string;
  exponent: number;
}

/** A finite decimal that no double holds exactly. */
export class ExactNumber {
  private text: string | undefined;

  constructor(readonly decimal: DecimalParts) {}

  /** Plain decimal text ("9007199254740993", "0.10000000000000001"); scientific past 64 padding zeros. */
  toString(): string {
    this.text ??= partsText(this.decimal);
    return this.text;
  }
}

/** A number as compared: a double that holds it exactly (NaN and ±Infinity included), or an ExactNumber. */
export type Numeric = number | ExactNumber;

const LITERAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** The parts of a decimal literal (JSON, or PostgreSQL's numeric input without NaN/Infinity); undefined if it is none. */
function decimalParts(text: string): DecimalParts | undefined {
  const m = LITERAL.exec(text);
  if (!m) return undefined;
  const [, sign, whole = '', fraction = ''] = m;
  if (whole === '' && fraction === '') return undefined;
  const exponent = m[4] === undefined ? 0 : Number(m[4]);
  if (!Number.isSafeInteger(exponent)) return undefined;
  const all = whole + fraction;
  let first = 0;
  while (first < all.length && all.charCodeAt(first) === 48) first++;
  let end = all.length;
  while (end > first && all.charCodeAt(end - 1) === 48) end--;
  if (first === end) return { sign: 0, digits: '', exponent: 0 };
  return { sign: sign === '-' ? -1 : 1, digits: all.slice(first, end), exponent: whole.length + exponent - first };
}

function compareParts(a: DecimalParts, b: DecimalParts): number {
  if (a.sign !== b.sign) return a.sign < b.sign ? -1 : 1;
  if (a.sign === 0) return 0;
  // Same sign: the larger exponent, then the larger digits (as 0.d… fractions), is the larger magnitude.
  const magnitude = a.exponent !== b.exponent ? (a.exponent < b.exponent ? -1 : 1) : a.digits < b.digits ? -1 : a.digits > b.digits ? 1 : 0;
  return a.sign * magnitude;
}

function partsText({ sign, digits, exponent }: DecimalParts): string {
  if (sign === 0) return '0';
  const minus = sign < 0 ? '-' : '';
  if (exponent > digits.length + 64 || exponent < -64) {
    return `${minus}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${exponent - 1}`;
  }
  if (exponent <= 0) return `${minus}0.${'0'.repeat(-exponent)}${digits}`;
  if (exponent >= digits.length) return minus + digits + '0'.repeat(exponent - digits.length);
  return `${minus}${digits.slice(0, exponent)}.${digits.slice(exponent)}`;
}

function partsOf(value: Numeric): DecimalParts {
  return typeof value === 'number' ? (decimalParts(String(value)) as DecimalParts) : value.decimal;
}

/**
 * A JSON number literal as a Numeric: the double when it is exactly the value
 * written, else an ExactNumber. Undefined when the text is no decimal literal.
 */
export function exactNumber(literal: string): Numeric | undefined {
  const n = Number(literal);
  if (Number.isFinite(n) && String(n) === literal) return n;
  const parts = decimalParts(literal);
  if (parts === undefined) return undefined;
  return Number.isFinite(n) && compareParts(parts, partsOf(n)) === 0 ? n : new ExactNumber(parts);
}

/** How NaN and ±Infinity are written in row JSON and in filters (a Map: no "__proto__" or "constructor" in it). */
const SPECIAL = new Map([
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['+Infinity', Infinity],
  ['-Infinity', -Infinity],
]);

/** The special values as PostgreSQL reads them in a literal: any case, and `inf` for infinity. */
const SPECIAL_INPUT = new Map([
  ['nan', NaN],
  ['infinity', Infinity],
  ['+infinity', Infinity],
  ['-infinity', -Infinity],
  ['inf', Infinity],
  ['+inf', Infinity],
  ['-inf', -Infinity],
]);

/**
 * PostgreSQL's integer input: decimal, or 0x / 0o / 0b, an underscore allowed
 * between digits and after the prefix, a sign, spaces around.
 */
const INTEGER_LITERAL = /^[ \t\n\v\f\r]*([+-]?)(0x(?:_?[\da-f])+|0o(?:_?[0-7])+|0b(?:_?[01])+|\d(?:_?\d)*)[ \t\n\v\f\r]*$/i;

/**
 * Strips the spaces PostgreSQL's input functions skip: C's isspace, ASCII
 * only (String.prototype.trim would also take a no-break space, which
 * PostgreSQL refuses).
 */
export function trimCSpace(text: string): string {
  return text.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
}
/** A decimal literal with underscores between its digits ('1_000.000_5', '1e1_0'). */
const GROUPED_DECIMAL = /^[+-]?(?:\d(?:_?\d)*)?(?:\.(?:\d(?:_?\d)*)?)?(?:e[+-]?\d(?:_?\d)*)?$/i;

/** An integer literal as PostgreSQL's integer types read it, or undefined. */
export function integerLiteral(text: string): bigint | undefined {
  const m = INTEGER_LITERAL.exec(text);
  if (!m) return undefined;
  const magnitude = BigInt(m[2]!.replace(/_/g, ''));
  return m[1] === '-' ? -magnitude : magnitude;
}

/**
 * A filter value of a numeric column, as numeric's input reads it: a decimal
 * literal (digits grouped by underscores, spaces around), an integer in 0x /
 * 0o / 0b, NaN or ±Infinity in any case, `inf`.
 */
export function parseNumeric(text: string): Numeric | undefined {
  const trimmed = trimCSpace(text);
  const special = SPECIAL_INPUT.get(trimmed.toLowerCase());
  if (special !== undefined) return special;
  if (/^[+-]?0[xob]/i.test(trimmed)) {
    const integer = integerLiteral(trimmed);
    return integer === undefined ? undefined : exactNumber(integer.toString());
  }
  if (trimmed.includes('_')) return GROUPED_DECIMAL.test(trimmed) ? exactNumber(trimmed.replace(/_/g, '')) : undefined;
  return exactNumber(trimmed);
}

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
  const shift = Math.max(0, mantissa.toString(2).length - precision, minExponent - exponent);
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

/** A row value of a numeric column as to_json writes it; NaN and ±Infinity arrive as strings. */
export function numericOf(value: unknown): Numeric | undefined {
  if (typeof value === 'number' || value instanceof ExactNumber) return value;
  return typeof value === 'string' ? SPECIAL.get(value) : undefined;
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
  const n = single ? Math.fround(Number(trimmed)) : Number(trimmed);
  return Number.isFinite(n) && (n !== 0 || parts.sign === 0) ? n : undefined;
}

/** A row value of a real or double precision column; NaN and ±Infinity arrive as strings. */
export function floatOf(value: unknown, single: boolean): number | undefined {
  const n = typeof value === 'number' ? value : value instanceof ExactNumber ? Number(value.toString()) : typeof value === 'string' ? SPECIAL.get(value) : undefined;
  return n !== undefined && single ? Math.fround(n) : n;
}

/** PostgreSQL's order: -Infinity < finite values < Infinity < NaN, and NaN = NaN. */
export function compareNumeric(a: Numeric, b: Numeric): number {
  if (typeof a === 'number' && typeof b === 'number') {
    if (a < b) return -1;
    if (a > b) return 1;
    if (a === b) return 0;
    return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
  }
  // An ExactNumber is finite: only here do digits need comparing.
  if (typeof a === 'number' && !Number.isFinite(a)) return Number.isNaN(a) || a > 0 ? 1 : -1;
  if (typeof b === 'number' && !Number.isFinite(b)) return Number.isNaN(b) || b > 0 ? -1 : 1;
  return compareParts(partsOf(a), partsOf(b));
}

/** A key equal for equal values (for sets): doubles as themselves (a Set finds NaN), ExactNumbers by their text. */
export function numericKey(value: Numeric): number | string {
  return typeof value === 'number' ? value : value.toString();
}

/** The value as plain decimal text: integers as their digits, never an exponent for row-sized values. */
export function numericText(value: Numeric): string {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && Math.abs(value) < 1e21) return String(value);
    if (!Number.isFinite(value)) return String(value);
    return partsText(partsOf(value));
  }
  return value.toString();
}
