/** Latency summary of one case, in microseconds. */
export interface Summary {
  samples: number;
  medianUs: number;
  p99Us: number;
  meanUs: number;
}

/** Nearest-rank percentile of ascending-sorted values; `p` in (0, 100]. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Summarises per-call durations given in nanoseconds. */
export function summarize(durationsNs: readonly number[]): Summary {
  const us = durationsNs.map((ns) => ns / 1000).sort((a, b) => a - b);
  const total = us.reduce((sum, value) => sum + value, 0);
  return {
    samples: us.length,
    medianUs: percentile(us, 50),
    p99Us: percentile(us, 99),
    meanUs: us.length > 0 ? total / us.length : Number.NaN,
  };
}
