import type { BenchCase } from './bench-case.js';

export interface MeasureOptions {
  /** Untimed calls per case first: JIT, connections, caches. */
  warmupCalls: number;
  /** Timed calls per case in total. */
  calls: number;
  /** The timed calls are split into this many rounds, cases taking turns within each. */
  rounds: number;
}

/**
 * Times sequential calls of every case, interleaved round by round with the starting case
 * rotating, so drift (GC, CPU frequency, other load) lands on all cases alike rather than
 * on whichever ran last. Answers per-call durations in nanoseconds, by case name.
 */
export async function measureInterleaved(cases: readonly BenchCase[], options: MeasureOptions): Promise<Map<string, number[]>> {
  for (const c of cases) {
    for (let i = 0; i < options.warmupCalls; i++) {
      await c.call();
      await c.reset?.();
    }
  }
  const durations = new Map(cases.map((c) => [c.name, [] as number[]]));
  const perRound = Math.ceil(options.calls / options.rounds);
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(round + k) % cases.length]!;
      const into = durations.get(c.name)!;
      for (let i = 0; i < perRound && into.length < options.calls; i++) {
        const start = process.hrtime.bigint();
        await c.call();
        into.push(Number(process.hrtime.bigint() - start));
        await c.reset?.();
      }
    }
  }
  return durations;
}
