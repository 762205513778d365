import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Summary } from './stats.js';

export interface ResultRow extends Summary {
  bench: string;
  name: string;
  /** Median over the baseline's median; 1 for the baseline itself. */
  ratio: number;
  /** The ratio this row must stay under, when it has a target. */
  target?: number;
  verdict?: 'PASS' | 'MISS';
}

export interface BenchReport {
  time: string;
  node: string;
  platform: string;
  calls: number;
  rows: ResultRow[];
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

/** The human table: one line per case, with PASS/MISS where there is a target. */
export function formatReport(report: BenchReport): string {
  const rows = [
    ['BENCH', 'CASE', 'MEDIAN µs', 'P99 µs', 'RATIO', 'TARGET'],
    ...report.rows.map((row) => [
      row.bench,
      row.name,
      fixed(row.medianUs),
      fixed(row.p99Us),
      `${fixed(row.ratio, 2)}x`,
      row.target === undefined ? '' : `<= ${fixed(row.target, 2)}x ${row.verdict}`,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  // Numbers right-aligned, words left-aligned.
  const numeric = new Set([2, 3, 4]);
  return rows
    .map((r) =>
      r
        .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function writeReport(path: string, report: BenchReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
