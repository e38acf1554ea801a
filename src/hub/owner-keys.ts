/**
 * OwnerKeys: how an owner rule compares a row's owner column with the
 * token's sub, as PostgreSQL's `owner = 'sub'` does: the sub read as a value
 * of the column's type (a uuid in either case, `7.00` for a numeric 7, a
 * character(n) without its padding), both sides reduced to one key, so the
 * hub can index subscriptions by it. Arrays and JSON owner columns own
 * nothing: their rows and a string sub are no values of one kind (expose
 * refuses them; an ALTER may still make one).
 */
import type { Row } from '../protocol.js';
import { columnValues, type ColumnValues, type RowValueMemo } from './column-values.js';
import type { CatalogColumn } from './table-catalog.js';

export class OwnerKeys {
  private readonly values: ColumnValues<unknown> | null;

  /** `column` is undefined when the table no longer has the rule's column: nothing is owned. */
  constructor(
    private readonly name: string,
    column: CatalogColumn | undefined,
    private readonly memo: RowValueMemo,
  ) {
    const comparable = column !== undefined && !column.baseType.endsWith('[]') && column.baseType !== 'json' && column.baseType !== 'jsonb';
    this.values = comparable ? columnValues(column.baseType, column.enumLabels) : null;
  }

  /** The key of the rows a sub owns; null when the column's type cannot read it. */
  ofSub(sub: string): string | null {
    const value = this.values?.fromFilter(sub);
    return value === undefined || this.values === null ? null : String(this.values.key(value));
  }

  /** The key of a row's owner; null for NULL, or a column the row lacks (renamed since, or named like "constructor"). */
  ofRow(row: Row): string | null {
    if (this.values === null || !Object.hasOwn(row, this.name)) return null;
    const value = this.memo.read(row, this.name, this.values, row[this.name]);
    return value === undefined ? null : String(this.values.key(value));
  }
}
