/**
 * Property-based tests (fast-check) of the client protocol (CONTRACT §4):
 * parseClientMessage on arbitrary input, round-trips of valid messages, and
 * the PostgREST-style filter grammar and its semantics against a plain
 * reference implementation. Pure functions: no database needed.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { RowcastError } from '../src/errors.js';
import { RowValueMemo } from '../src/hub/column-values.js';
import { compileFilter } from '../src/hub/subscription-filter.js';
import type { CatalogColumn, ExposedTable } from '../src/hub/table-catalog.js';
import { FILTER_OPERATORS, OPS, parseClientMessage, parseFilterCondition } from '../src/protocol.js';

const CMP = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte'] as const;
type Cmp = (typeof CMP)[number];

// ---------------------------------------------------------------- arbitraries

/** Strings in UTF-16 units at most 2×maxLength (a 'binary' unit is one code point). */
const text = (minLength: number, maxLength: number) => fc.string({ unit: 'binary', minLength, maxLength });

/** Text that looks like messages more often than random bytes do. */
const TOKENS = ['{', '}', '[', ']', ',', ':', '"type"', '"subscribe"', '"unsubscribe"', '"ping"', '"auth"', '"id"', '"s1"', '"table"', '"posts"', '"ops"', '"INSERT"', '"filter"', '"since"', 'null', '1', 'true', '"'];
const frameLike = fc.oneof(
  text(0, 40),
  fc.json(),
  fc.anything().map((v) => JSON.stringify(v) ?? 'undefined'),
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 20 }).map((t) => t.join('')),
);

/** Encodes in-list items: quoted when they hold a comma or at random; a lone empty item must be quoted. */
const inList = (items: fc.Arbitrary<string>) =>
  fc.array(fc.tuple(items, fc.boolean()), { maxLength: 6 }).map((pairs) => {
    const values = pairs.map(([v]) => v);
    const body = pairs
      .map(([v, quote]) => (quote || v.includes(',') || (pairs.length === 1 && v === '') ? `"${v}"` : v))
      .join(',');
    return { values, text: `in.(${body})` };
  });

const noQuote = text(0, 12).map((s) => s.replaceAll('"', ''));

const validCondition = fc.oneof(
  fc.tuple(fc.constantFrom(...CMP), text(0, 30)).map(([op, v]) => `${op}.${v}`),
  inList(noQuote).map((l) => l.text),
  fc.constantFrom('is.null', 'is.true', 'is.false'),
);

// '__proto__' has a test of its own below.
const columnName = fc.oneof(text(1, 31), fc.constantFrom('constructor', 'toString', 'hasOwnProperty', 'id')).filter((c) => c !== '__proto__');

const subscribe = fc.record(
  {
    type: fc.constant('subscribe' as const),
    id: text(1, 64),
    table: text(1, 63),
    ops: fc.shuffledSubarray([...OPS], { minLength: 1 }),
    filter: fc.dictionary(columnName, validCondition, { maxKeys: 8 }),
    since: text(1, 128),
  },
  { requiredKeys: ['type', 'id', 'table'] },
);
const validMessage = fc.oneof(
  subscribe,
  fc.record({ type: fc.constant('unsubscribe' as const), id: text(1, 64) }),
  fc.record(
    { type: fc.constant('ping' as const), timestamp: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })) },
    { requiredKeys: ['type'] },
  ),
  fc.record({ type: fc.constant('auth' as const), token: text(1, 200) }),
);

// ---------------------------------------------------------------- parseClientMessage

describe('parseClientMessage', () => {
  test('never throws; rejects with invalid_json exactly when the text is not JSON, else invalid_message', () => {
    fc.assert(
      fc.property(frameLike, (frame) => {
        const result = parseClientMessage(frame);
        let json: { ok: true; value: unknown } | { ok: false } = { ok: false };
        try {
          json = { ok: true, value: JSON.parse(frame) };
        } catch {
          // not JSON
        }
        if (!json.ok) {
          expect(result).toMatchObject({ ok: false, code: 'invalid_json' });
          return;
        }
        const value = json.value;
        const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
        if (!isObject) expect(result).toMatchObject({ ok: false, code: 'invalid_message' });
        if (!result.ok) {
          expect(result.code).toBe('invalid_message');
          expect(result.message.length).toBeGreaterThan(0);
          // ref, when there is one, is the message's own id.
          if (result.ref !== undefined) expect(result.ref).toBe((value as { id?: unknown }).id);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('objects with a known type and arbitrary fields: accepted, or invalid_message with ref = the string id', () => {
    const field = fc.oneof(fc.anything(), text(0, 20), fc.constantFrom(['INSERT'], [], { a: 'eq.1' }, 'eq.1', 0));
    const message = fc.record(
      { type: fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'auth'), id: field, table: field, ops: field, filter: field, since: field, timestamp: field, token: field },
      { requiredKeys: ['type'] },
    );
    fc.assert(
      fc.property(message, (m) => {
        const result = parseClientMessage(JSON.stringify(m));
        if (result.ok) return;
        expect(result.code).toBe('invalid_message');
        const id = (JSON.parse(JSON.stringify(m)) as { id?: unknown }).id;
        expect(result.ref).toBe(typeof id === 'string' && id.length <= 128 ? id : undefined);
      }),
      { numRuns: 1000 },
    );
  });

  test('every valid message round-trips through JSON unchanged', () => {
    fc.assert(
      fc.property(validMessage, (m) => {
        const wire = JSON.stringify(m);
        const result = parseClientMessage(wire);
        expect(result).toEqual({ ok: true, message: JSON.parse(wire) });
      }),
      { numRuns: 1000 },
    );
  });

  test('a filter key "__proto__" is kept (then refused as an unknown column), never silently dropped', () => {
    // JSON.parse makes "__proto__" an own key; dropping it would turn a filtered subscription into an unfiltered one.
    const result = parseClientMessage('{"type":"subscribe","id":"p","table":"posts","filter":{"__proto__":"eq.1","title":"eq.x"}}');
    if (result.ok) {
      expect(result.message.type).toBe('subscribe');
      expect(Object.keys((result.message as { filter?: object }).filter ?? {})).toEqual(['__proto__', 'title']);
    } else {
      expect(result.code).toBe('invalid_message');
    }
  });

  test('breaking one field of a valid subscribe gives invalid_message with ref = its id', () => {
    const breakers: Array<(m: Record<string, unknown>) => void> = [
      (m) => delete m.table,
      (m) => (m.table = ''),
      (m) => (m.ops = []),
      (m) => (m.ops = ['INSERT', 'INSERT']),
      (m) => (m.ops = ['UPSERT']),
      (m) => (m.filter = { status: 'like.x' }),
      (m) => (m.filter = { status: 'in.(a,b' }),
      (m) => (m.filter = { status: 1 }),
      (m) => (m.since = ''),
      (m) => (m.since = 5),
      (m) => (m.type = 'subscribe!'),
    ];
    fc.assert(
      fc.property(subscribe, fc.integer({ min: 0, max: breakers.length - 1 }), (m, which) => {
        const broken: Record<string, unknown> = { ...m };
        breakers[which]!(broken);
        expect(parseClientMessage(JSON.stringify(broken))).toMatchObject({ ok: false, code: 'invalid_message', ref: m.id });
      }),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------- filter grammar

describe('parseFilterCondition', () => {
  test('op.value for each comparison keeps the value verbatim', () => {
    fc.assert(
      fc.property(fc.constantFrom(...CMP), text(0, 40), (op, value) => {
        expect(parseFilterCondition(`${op}.${value}`)).toEqual({ op, value });
      }),
    );
  });

  test('in-lists: items come back as written, quoted ones with their commas', () => {
    const item = fc.oneof(noQuote, fc.constantFrom('a,b', ',', ' , ', ',,', '(x)', ')'));
    fc.assert(
      fc.property(inList(item), ({ values, text: condition }) => {
        expect(parseFilterCondition(condition)).toEqual({ op: 'in', values });
      }),
    );
  });

  test('is.null / is.true / is.false, and nothing else after is.', () => {
    expect(parseFilterCondition('is.null')).toEqual({ op: 'is', value: null });
    expect(parseFilterCondition('is.true')).toEqual({ op: 'is', value: true });
    expect(parseFilterCondition('is.false')).toEqual({ op: 'is', value: false });
    fc.assert(
      fc.property(text(0, 10).filter((s) => !['null', 'true', 'false'].includes(s)), (s) => {
        expect(parseFilterCondition(`is.${s}`)).toBeNull();
      }),
    );
  });

  test('unknown operators, missing dots, unterminated or badly quoted in-lists are refused', () => {
    const unknownOp = text(0, 8).filter((s) => !s.includes('.') && !(FILTER_OPERATORS as readonly string[]).includes(s));
    fc.assert(fc.property(unknownOp, text(0, 20), (op, v) => {
      expect(parseFilterCondition(`${op}.${v}`)).toBeNull();
    }));
    fc.assert(fc.property(text(0, 20).filter((s) => !s.includes('.')), (s) => {
      expect(parseFilterCondition(s)).toBeNull();
    }));
    fc.assert(fc.property(text(0, 20).filter((s) => !s.endsWith(')')), (s) => {
      expect(parseFilterCondition(`in.(${s}`)).toBeNull();
    }));
    fc.assert(fc.property(noQuote, (s) => {
      expect(parseFilterCondition(`in.("${s})`)).toBeNull();
    }));
    fc.assert(fc.property(noQuote, text(1, 5).filter((s) => !s.startsWith(',')), (s, junk) => {
      expect(parseFilterCondition(`in.("${s}"${junk})`)).toBeNull();
    }));
  });
});

// ---------------------------------------------------------------- filter semantics

const column = (name: string, type: string): CatalogColumn => ({ name, type, nullable: true, baseType: type, enumLabels: null });
const COLUMNS = [column('id', 'bigint'), column('total', 'numeric(12,2)'), column('name', 'text'), column('read', 'boolean')];
const TABLE: ExposedTable = {
  key: 'public.t',
  info: { schema: 'public', name: 't', primary_key: ['id'], columns: COLUMNS, read_rule: 'authenticated' },
  rule: { kind: 'authenticated' },
  columns: new Map(COLUMNS.map((c) => [c.name, c])),
  historyAfterSeq: 0,
};

type Cond = { op: Cmp; value: string } | { op: 'in'; values: string[] } | { op: 'is'; value: null | boolean };
type Kind = 'number' | 'text' | 'boolean';
const KIND: Record<string, Kind> = { id: 'number', total: 'number', name: 'text', read: 'boolean' };

function render(cond: Cond): string {
  if (cond.op === 'in') return `in.(${cond.values.map((v) => (v.includes(',') || v === '' ? `"${v}"` : v)).join(',')})`;
  if (cond.op === 'is') return `is.${String(cond.value)}`;
  return `${cond.op}.${cond.value}`;
}

/** The plain reading of CONTRACT §4 with SQL semantics: a NULL (or absent) value matches no comparison. */
function reference(kind: Kind, cond: Cond, raw: unknown): boolean {
  const v = raw === undefined ? null : raw;
  if (cond.op === 'is') return cond.value === null ? v === null : v === cond.value;
  if (v === null) return false;
  const parse = (s: string): number | string | boolean => (kind === 'number' ? Number(s) : kind === 'boolean' ? s === 'true' : s);
  if (cond.op === 'in') return cond.values.map(parse).includes(v as number | string | boolean);
  const want = parse(cond.value);
  if (kind === 'text') {
    // By code point (README), not by UTF-16 unit as JS's < does: U+1F600 > U+FF66.
    const order = compareSequences(codePoints(v as string), codePoints(want as string));
    return { eq: order === 0, neq: order !== 0, lt: order < 0, lte: order <= 0, gt: order > 0, gte: order >= 0 }[cond.op];
  }
  const x = v as number | boolean;
  const w = want as number | boolean;
  return { eq: x === w, neq: x !== w, lt: x < w, lte: x <= w, gt: x > w, gte: x >= w }[cond.op];
}

const codePoints = (s: string): number[] => [...s].map((ch) => ch.codePointAt(0) as number);

function compareSequences(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return Math.sign((a[i] as number) - (b[i] as number));
  return Math.sign(a.length - b.length);
}

const numberValue = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ min: -10, max: 10, noNaN: true }));
const TEXTS = ['', 'a', 'b', 'ab', 'B', 'é', '10', '9', ' a', 'a,b', 'z(1)'];
// PostgreSQL's text holds no NUL, so a filter with one is refused (tested against PostgreSQL in filter-oracle).
const textValue = fc.oneof(fc.constantFrom(...TEXTS), noQuote.map((s) => s.replaceAll('\u0000', '')));

const condFor = (value: fc.Arbitrary<string>, ops: readonly Cmp[]): fc.Arbitrary<Cond> =>
  fc.oneof(
    fc.tuple(fc.constantFrom(...ops), value).map(([op, v]) => ({ op, value: v })),
    fc.array(value, { minLength: 1, maxLength: 4 }).map((values) => ({ op: 'in' as const, values })),
    fc.constant({ op: 'is' as const, value: null }),
  );
const numberCond = condFor(numberValue.map(String), CMP);
const CONDS: Record<string, fc.Arbitrary<Cond>> = {
  // A bigint filter takes integers only.
  id: condFor(fc.integer({ min: -6, max: 6 }).map(String), CMP),
  total: numberCond,
  name: condFor(textValue, CMP),
  read: fc.oneof(condFor(fc.constantFrom('true', 'false'), ['eq', 'neq']), fc.constantFrom<Cond>({ op: 'is', value: true }, { op: 'is', value: false })),
};

const row = fc.record(
  {
    id: fc.option(fc.integer({ min: -5, max: 5 })),
    total: fc.option(numberValue),
    name: fc.option(textValue),
    read: fc.option(fc.boolean()),
  },
  { requiredKeys: [] },
);

describe('compileFilter', () => {
  test('matches exactly what the reference does, over generated filters and rows', () => {
    const filter = fc.record(CONDS, { requiredKeys: [] });
    fc.assert(
      fc.property(filter, fc.array(row, { minLength: 1, maxLength: 20 }), (conds, rows) => {
        const entries = Object.entries(conds) as Array<[string, Cond]>;
        const predicate = compileFilter(Object.fromEntries(entries.map(([c, cond]) => [c, render(cond)])), TABLE, new RowValueMemo());
        for (const r of rows) {
          const want = entries.every(([c, cond]) => reference(KIND[c]!, cond, (r as Record<string, unknown>)[c]));
          expect({ filter: entries, row: r, match: predicate === null ? true : predicate(r) }).toEqual({ filter: entries, row: r, match: want });
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('refuses with invalid_request: unknown column, non-numbers on numeric columns, order or is.true/false where they make no sense', () => {
    const refused = (filter: Record<string, string>) => {
      try {
        compileFilter(filter, TABLE, new RowValueMemo());
      } catch (error) {
        return error instanceof RowcastError && error.code === 'invalid_request';
      }
      return false;
    };
    const notNumber = fc.stringMatching(/^[a-z_ ]*$/);
    fc.assert(fc.property(fc.constantFrom(...CMP), notNumber, (op, v) => {
      expect(refused({ total: `${op}.${v}` })).toBe(true);
    }));
    fc.assert(fc.property(text(1, 10).filter((c) => !TABLE.columns.has(c)), (c) => {
      expect(refused({ [c]: 'eq.1' })).toBe(true);
    }));
    // Booleans order (false before true), but only boolean values compare with them.
    for (const op of ['lt', 'lte', 'gt', 'gte']) expect(refused({ read: `${op}.maybe` })).toBe(true);
    expect(refused({ read: 'lt.true' })).toBe(false);
    for (const c of ['id', 'total', 'name']) expect(refused({ [c]: 'is.true' })).toBe(true);
    expect(refused({ id: 'in.(1,x)' })).toBe(true);
    expect(refused({ total: 'eq.1', name: 'eq.a' })).toBe(false);
  });
});
