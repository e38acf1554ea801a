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
export function decimalParts(text: string): DecimalParts | undefined {
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
export const SPECIAL = new Map([
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['+Infinity', Infinity],
  ['-Infinity', -Infinity],
]);

/** The special values as PostgreSQL reads them in a literal: any case, and `inf` for infinity. */
export const SPECIAL_INPUT = new Map([
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
 * Whether numeric can hold the decimal literal: at most 131072 digits before
 * the point, 16383 after it as written (trailing zeros count, `0e-16384` is
 * refused too), and an exponent within ±1073741823, as numeric's input checks.
 */
export function numericHolds(literal: string): boolean {
  const m = LITERAL.exec(literal);
  const parts = decimalParts(literal);
  if (!m || parts === undefined) return false;
  const exponent = m[4] === undefined ? 0 : Number(m[4]);
  const scale = (m[3] ?? '').length - exponent;
  return Math.abs(exponent) <= 1_073_741_823 && scale <= 16_383 && (parts.sign === 0 || parts.exponent <= 131_072);
}

/** A decimal literal as a Numeric, when numeric can hold it. */
function heldNumber(literal: string): Numeric | undefined {
  return numericHolds(literal) ? exactNumber(literal) : undefined;
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
    return integer === undefined ? undefined : heldNumber(integer.toString());
  }
  if (trimmed.includes('_')) return GROUPED_DECIMAL.test(trimmed) ? heldNumber(trimmed.replace(/_/g, '')) : undefined;
  return heldNumber(trimmed);
}

/** A row value of a numeric column as to_json writes it; NaN and ±Infinity arrive as strings. */
export function numericOf(value: unknown): Numeric | undefined {
  if (typeof value === 'number' || value instanceof ExactNumber) return value;
  return typeof value === 'string' ? SPECIAL.get(value) : undefined;
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
