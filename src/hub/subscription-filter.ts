/**
 * SubscriptionFilter: PostgREST-style column filters (CONTRACT §4) compiled
 * once per subscription into a predicate over the row. Filters are data,
 * never SQL: columns are checked against the table, values are compared in
 * memory with the column's type. For UPDATE they match the new row.
 */
import { RowcastError } from '../errors.js';
import { parseFilterCondition, type Filter, type FilterCondition, type Row, type TableColumn } from '../protocol.js';
import type { ExposedTable } from './table-catalog.js';

export type RowPredicate = (row: Row) => boolean;

type Kind = 'number' | 'boolean' | 'time' | 'text' | 'structured';

function kindOf(column: TableColumn): Kind {
  const t = column.type;
  if (/^(smallint|integer|bigint|real|double precision|numeric|decimal)/.test(t)) return 'number';
  if (t === 'boolean') return 'boolean';
  if (/^(timestamp|date)/.test(t)) return 'time';
  if (t.endsWith('[]') || t === 'json' || t === 'jsonb') return 'structured';
  return 'text';
}

/** Comparable form of a filter value or a row value of the column's kind; undefined = not comparable. */
function comparable(kind: Kind, value: unknown): number | string | boolean | undefined {
  switch (kind) {
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      return Number.isFinite(n) ? n : undefined;
    }
    case 'boolean':
      if (value === true || value === 'true') return true;
      if (value === false || value === 'false') return false;
      return undefined;
    case 'time': {
      const ms = typeof value === 'string' ? Date.parse(value) : NaN;
      return Number.isFinite(ms) ? ms : undefined;
    }
    case 'text':
      return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
    case 'structured':
      return typeof value === 'string' ? value : JSON.stringify(value);
  }
}

function bad(column: string, message: string): RowcastError {
  return new RowcastError('invalid_request', `filter on ${column}: ${message}`);
}

function compileCondition(column: TableColumn, cond: FilterCondition): RowPredicate {
  const name = column.name;
  const kind = kindOf(column);
  if (cond.op === 'is') {
    const want = cond.value;
    if (want !== null && kind !== 'boolean') throw bad(name, `is.${want} needs a boolean column`);
    return (row) => (want === null ? row[name] === null || row[name] === undefined : row[name] === want);
  }
  const coerce = (v: string): number | string | boolean => {
    const c = comparable(kind, v);
    if (c === undefined) throw bad(name, `"${v}" is not a ${column.type}`);
    return c;
  };
  if (cond.op === 'in') {
    const set = new Set(cond.values.map(coerce));
    return (row) => {
      const v = comparable(kind, row[name]);
      return v !== undefined && set.has(v);
    };
  }
  if (kind === 'structured' && cond.op !== 'eq' && cond.op !== 'neq') {
    throw bad(name, `${cond.op} does not apply to ${column.type}`);
  }
  if (kind === 'boolean' && cond.op !== 'eq' && cond.op !== 'neq') {
    throw bad(name, `${cond.op} does not apply to boolean`);
  }
  const want = coerce(cond.value);
  const test = {
    eq: (v: number | string | boolean) => v === want,
    neq: (v: number | string | boolean) => v !== want,
    lt: (v: number | string | boolean) => v < want,
    lte: (v: number | string | boolean) => v <= want,
    gt: (v: number | string | boolean) => v > want,
    gte: (v: number | string | boolean) => v >= want,
  }[cond.op];
  // SQL semantics: a NULL column matches no comparison.
  return (row) => {
    const v = comparable(kind, row[name]);
    return v !== undefined && test(v);
  };
}

/** Compiles a filter against a table; null when there is nothing to check. */
export function compileFilter(filter: Filter | undefined, table: ExposedTable): RowPredicate | null {
  if (!filter) return null;
  const predicates: RowPredicate[] = [];
  for (const [name, expr] of Object.entries(filter)) {
    const column = table.columns.get(name);
    if (!column) throw bad(name, `${table.key} has no such column`);
    const cond = parseFilterCondition(expr);
    if (!cond) throw bad(name, `"${expr}" is not a filter`);
    predicates.push(compileCondition(column, cond));
  }
  if (predicates.length === 0) return null;
  return (row) => predicates.every((p) => p(row));
}
