import type { MeasureOptions } from './measure.js';
import type { Figure } from './report.js';

/** One operation to time: `call` performs it once. */
export interface BenchCase {
  name: string;
  call(): Promise<unknown>;
  /** Untimed, after every timed call: puts the world back (e.g. removes what call made). */
  reset?(): Promise<void>;
}

/**
 * A comparison measured in one run: cases against a baseline, interleaved so they share the
 * machine's noise. `targetRatio` applies to the cases named in `targeted` (median vs the
 * baseline's median); the others are there to explain where the time goes.
 */
export interface BenchSetup {
  baseline: BenchCase;
  cases: BenchCase[];
  targeted: ReadonlySet<string>;
  targetRatio: number;
  teardown(): Promise<void>;
}

/** A benchmark file exports one of these; `bench/run.ts` lists them. */
export interface Bench {
  name: string;
  setup(): Promise<BenchSetup>;
  /** Call counts for heavy operations (a session create is not a ping); overrides the defaults. */
  options?: Partial<MeasureOptions>;
}

/**
 * A benchmark of absolute figures rather than interleaved calls: each figure is measured at
 * a baseline size and a larger one in the same run (see report.ts `Figure`).
 */
export interface FigureBench {
  name: string;
  figures(): Promise<Figure[]>;
}
