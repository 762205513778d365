import { describe, expect, it } from 'vitest';
import { backoffDelay, LINK_BACKOFF } from './backoff.js';

describe('backoffDelay', () => {
  const policy = { baseMs: 100, capMs: 5000 };

  it.each([
    // attempt, random, expected
    [0, 0, 0],
    [0, 0.5, 50],
    [0, 0.999, 99],
    [1, 0.5, 100],
    [3, 0.5, 400],
    [5, 0.999, 3196],
    [6, 0.999, 4995],
    [6, 0.5, 2500],
    [40, 0.5, 2500],
    [10_000, 0.999, 4995],
  ])('attempt %i with random %f waits %i ms', (attempt, random, expected) => {
    expect(backoffDelay(attempt, policy, () => random)).toBe(expected);
  });

  it('never exceeds the cap of the link policy', () => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const delay = backoffDelay(attempt, LINK_BACKOFF);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(LINK_BACKOFF.capMs);
    }
  });
});
