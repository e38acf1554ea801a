/**
 * Row JSON as PostgreSQL wrote it, with numbers kept exact: JSON.parse would
 * turn 9007199254740993 into ...992, which an owner rule or a filter must not
 * confuse. Only text that may hold such a literal pays for the lossless
 * parser; every other row is parsed by JSON.parse.
 */
import { parse } from 'lossless-json';
import { exactNumber } from './exact-number.js';

/**
 * Whether the text holds a number literal of 16 digits or more, or with an
 * exponent: any other literal has at most 15 digits in the range of doubles,
 * which a double holds exactly. Strings are skipped (indexOf is fast), so a
 * long number inside one costs nothing.
 */
function mayLoseDigits(text: string): boolean {
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return false;
        let backslashes = 0;
        while (text.charCodeAt(i - 1 - backslashes) === 92 /* \ */) backslashes++;
        if (backslashes % 2 === 0) break;
      }
    } else if (c >= 48 && c <= 57 /* 0-9 */) {
      if (++digits > 15) return true;
    } else if ((c === 101 || c === 69) /* e E */ && digits > 0) {
      return true;
    } else if (c !== 46 /* . */) {
      digits = 0;
    }
  }
  return false;
}

/** Parses JSON text; numbers no double holds exactly become ExactNumbers. */
export function parseExactJson(text: string): unknown {
  if (!mayLoseDigits(text)) return JSON.parse(text);
  return parse(text, null, {
    parseNumber: exactNumber,
    // As JSON.parse: the last of duplicate keys wins (a json column keeps them).
    onDuplicateKey: ({ newValue }) => newValue,
  });
}
