/**
 * One table's panel on the dashboard: live counters and the latest changes.
 * Row values are written with textContent only, never parsed as HTML.
 */
import type { ChangeEvent } from '../client/index.js';

type Row = Record<string, unknown>;

/** How many of a table's latest changes stay on the page. */
const LATEST_KEPT = 20;

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A column value as the text a person reads: strings as they are, the rest as JSON. */
export function displayValue(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? String(value);
}

export class TableView {
  readonly root: HTMLElement;
  private readonly status: HTMLElement;
  private readonly counters: HTMLElement;
  private readonly problem: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly counts = { INSERT: 0, UPDATE: 0, DELETE: 0 };

  constructor(
    readonly table: string,
    /** The table's columns in table order; a row's other keys follow them. */
    private readonly columnOrder: readonly string[],
  ) {
    this.root = element('section', 'table');
    this.root.dataset.table = table;
    this.status = element('span', 'status');
    this.counters = element('p', 'counters');
    this.problem = element('p', 'table-error');
    this.problem.hidden = true;
    this.list = element('ol', 'changes');
    const title = element('h2', undefined, table);
    title.append(' ', this.status);
    this.root.append(title, this.counters, this.problem, this.list);
    this.renderCounters();
    this.markLive(false);
  }

  /** Whether the server has set this table's subscription up on the current connection. */
  markLive(live: boolean): void {
    this.root.dataset.live = String(live);
    this.status.textContent = live ? 'live' : 'waiting';
    this.status.className = `status ${live ? 'live' : 'waiting'}`;
  }

  add(change: ChangeEvent<Row>): void {
    this.counts[change.op] += 1;
    this.renderCounters();
    this.problem.hidden = true;
    this.list.prepend(this.renderChange(change));
    while (this.list.children.length > LATEST_KEPT) this.list.lastElementChild?.remove();
  }

  showProblem(message: string): void {
    this.problem.textContent = message;
    this.problem.hidden = false;
  }

  private renderCounters(): void {
    const { INSERT, UPDATE, DELETE } = this.counts;
    this.counters.textContent = `changes: ${INSERT + UPDATE + DELETE} (inserts ${INSERT}, updates ${UPDATE}, deletes ${DELETE})`;
  }

  private columnsOf(row: Row): string[] {
    const known = this.columnOrder.filter((column) => column in row);
    return [...known, ...Object.keys(row).filter((column) => !known.includes(column))];
  }

  private renderChange(change: ChangeEvent<Row>): HTMLLIElement {
    const item = element('li', 'change');
    item.dataset.op = change.op;
    const head = element('div', 'change-head');
    head.append(
      element('span', `op op-${change.op}`, change.op),
      element('span', undefined, new Date(change.committed_at).toLocaleTimeString()),
    );
    const columns = element('dl', 'columns');
    for (const column of this.columnsOf(change.row)) {
      const value = change.row[column];
      const name = element('dt', undefined, column);
      const shown = element('dd', undefined, displayValue(value));
      // UPDATE: mark what changed, with the previous value beside it.
      if (change.op === 'UPDATE' && change.old && displayValue(change.old[column]) !== displayValue(value)) {
        name.classList.add('changed');
        shown.classList.add('changed');
        shown.append(element('span', 'was', displayValue(change.old[column])));
      }
      columns.append(name, shown);
    }
    item.append(head, columns);
    return item;
  }
}
