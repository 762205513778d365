import { invalidArgument } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses durations like `250ms`, `3s`, `1.5m`, `2h` into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!match) {
    throw invalidArgument('BAD_DURATION', `invalid duration "${text}": use e.g. 500ms, 3s, 2m, 1h`);
  }
  return Math.round(Number(match[1]) * UNITS[match[2]!]!);
}
