/**
 * The bench's output: one line per figure, next to its control and target,
 * printed as a table and kept (with the raw results) as JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Line {
  workload: string;
  figure: string;
  value: number;
  unit: string;
  control?: { label: string; value: number };
  target?: { text: string; met: boolean };
  note?: string;
}

function format(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  const digits = Number.isInteger(value) || Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  const text = value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return unit ? `${text} ${unit}` : text;
}

export class Report {
  readonly lines: Line[] = [];
  readonly details: Record<string, unknown> = {};
  readonly problems: string[] = [];

  add(line: Line): void {
    this.lines.push(line);
  }

  table(): string {
    const header = ['workload', 'figure', 'rowcast', 'control', 'ratio', 'target', 'met'];
    const rows = this.lines.map((l) => [
      l.workload,
      l.figure,
      format(l.value, l.unit),
      l.control ? `${format(l.control.value, l.unit)} (${l.control.label})` : '',
      l.control && l.control.value ? `${(l.value / l.control.value).toFixed(2)}x` : '',
      l.target?.text ?? '',
      l.target ? (l.target.met ? 'met' : 'NOT MET') : '',
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const render = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ').trimEnd();
    const rule = widths.map((w) => '-'.repeat(w)).join('-|-');
    const notes = this.lines.filter((l) => l.note).map((l) => `  * ${l.workload} ${l.figure}: ${l.note}`);
    return [render(header), rule, ...rows.map(render), ...(notes.length ? ['', 'notes:', ...notes] : [])].join('\n');
  }

  write(path: string, meta: Record<string, unknown>): void {
    mkdirSync(dirname(path), { recursive: true });
    const body = { ...meta, lines: this.lines, problems: this.problems, details: this.details, table: this.table().split('\n') };
    writeFileSync(path, `${JSON.stringify(body, null, 2)}\n`);
  }
}
