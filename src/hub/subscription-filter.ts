/**
 * SubscriptionFilter: PostgREST-style column filters (CONTRACT §4) compiled
 * once per subscription into a predicate over the row. Filters are data,
 * never SQL: columns are checked against the table, values are compared in
 * memory with the column's type. For UPDATE they match the new row.
 */
import { RowcastError } from '../errors.js';
import { parseFilterCondition, type Filter, type FilterCondition, type Row } from '../protocol.js';
import { columnValues, type RowValueMemo } from './column-values.js';
import type { CatalogColumn, ExposedTable } from './table-catalog.js';

export type RowPredicate = (row: Row) => boolean;

function bad(column: string, message: string): RowcastError {
  return new RowcastError('invalid_request', `filter on ${column}: ${message}`);
}

/** "an integer", "a numeric(12,2)", "a uuid". */
function withArticle(type: string): string {
  return `${type !== 'uuid' && /^[aeiou]/i.test(type) ? 'an' : 'a'} ${type}`;
}

const TESTS = {
  eq: (order: number) => order === 0,
  neq: (order: number) => order !== 0,
  lt: (order: number) => order < 0,
  lte: (order: number) => order <= 0,
  gt: (order: number) => order > 0,
  gte: (order: number) => order >= 0,
};

function compileCondition(column: CatalogColumn, cond: FilterCondition, memo: RowValueMemo): RowPredicate {
  const name = column.name;
  const values = columnValues(column.baseType, column.enumLabels);
  // Only the row's own columns: one it lacks (written before the column was added) is NULL, whatever its name.
  const cell = (row: Row) => (Object.hasOwn(row, name) ? row[name] : undefined);
  const read = (row: Row) => memo.read(row, name, values, cell(row));
  if (cond.op === 'is') {
    const want = cond.value;
    if (want !== null && column.baseType !== 'boolean') throw bad(name, `is.${want} needs a boolean column`);
    return (row) => (want === null ? cell(row) === null || cell(row) === undefined : cell(row) === want);
  }
  const coerce = (text: string): unknown => {
    const value = values.fromFilter(text);
    if (value === undefined) throw bad(name, `"${text}" is not ${withArticle(column.type)}`);
    return value;
  };
  if (cond.op === 'in') {
    const keys = new Set(cond.values.map((text) => values.key(coerce(text))));
    return (row) => {
      const v = read(row);
      return v !== undefined && keys.has(values.key(v));
    };
  }
  const compare = values.compare;
  if (compare === null && cond.op !== 'eq' && cond.op !== 'neq') throw bad(name, `${cond.op} does not apply to ${column.type}`);
  const want = coerce(cond.value);
  if (compare === null) {
    const key = values.key(want);
    const equal = cond.op === 'eq';
    return (row) => {
      const v = read(row);
      return v !== undefined && (values.key(v) === key) === equal;
    };
  }
  const test = TESTS[cond.op];
  // SQL semantics: a NULL column matches no comparison.
  return (row) => {
    const v = read(row);
    return v !== undefined && test(compare(v, want));
  };
}

/** Compiles a filter against a table; null when there is nothing to check. */
export function compileFilter(filter: Filter | undefined, table: ExposedTable, memo: RowValueMemo): RowPredicate | null {
  if (!filter) return null;
  const predicates: RowPredicate[] = [];
  for (const [name, expr] of Object.entries(filter)) {
    const column = table.columns.get(name);
    if (!column) throw bad(name, `${table.key} has no such column`);
    const cond = parseFilterCondition(expr);
    if (!cond) throw bad(name, `"${expr}" is not a filter`);
    predicates.push(compileCondition(column, cond, memo));
  }
  if (predicates.length === 0) return null;
  return (row) => predicates.every((p) => p(row));
}
