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

/**
 * One absolute figure measured at two sizes in the same run (e.g. 100 and 1,000 agents): the
 * smaller is the baseline, `ratio` shows the growth. `target` applies to `value`.
 */
export interface Figure {
  bench: string;
  name: string;
  unit: 'ms' | 's' | 'MB' | 'count';
  /** e.g. "100 agents": what `baseline` was measured at. */
  baselineAt: string;
  baseline: number;
  /** e.g. "1,000 agents": what `value` was measured at. */
  valueAt: string;
  value: number;
  /** value / baseline (NaN when the baseline is 0). */
  ratio: number;
  /** e.g. "<= 50 ms". */
  target?: string;
  verdict?: 'PASS' | 'MISS';
}

export interface BenchReport {
  time: string;
  node: string;
  platform: string;
  calls: number;
  rows: ResultRow[];
  /** Absolute figures beside their baseline at a smaller size (the coordinator fleet). */
  figures?: Figure[];
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

function alignTable(rows: string[][], numeric: ReadonlySet<number>): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const figureValue = (value: number, unit: Figure['unit']) =>
  unit === 'count' ? fixed(value, 0) : `${fixed(value, unit === 'MB' ? 0 : unit === 's' ? 1 : 2)} ${unit}`;

/** The figures table: each figure at its baseline size and at the larger one, with the growth. */
export function formatFigures(figures: readonly Figure[]): string {
  const rows = [
    ['BENCH', 'FIGURE', 'BASELINE', 'VALUE', 'GROWTH', 'TARGET'],
    ...figures.map((f) => [
      f.bench,
      f.name,
      `${figureValue(f.baseline, f.unit)} @${f.baselineAt}`,
      `${figureValue(f.value, f.unit)} @${f.valueAt}`,
      Number.isFinite(f.ratio) ? `${fixed(f.ratio, 2)}x` : '-',
      f.target === undefined ? '' : `${f.target} ${f.verdict}`,
    ]),
  ];
  return alignTable(rows, new Set([2, 3, 4]));
}

export function writeReport(path: string, report: BenchReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
