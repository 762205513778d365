import { describe, expect, it } from 'vitest';
import { SortedKeys } from './sorted-keys.js';

/** A deterministic shuffle, so a failure reproduces. */
function shuffled(keys: string[], seed = 7): string[] {
  const out = [...keys];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const keys = (n: number) => Array.from({ length: n }, (_, i) => `k${String(i).padStart(5, '0')}`);

describe('SortedKeys', () => {
  it('keeps keys sorted and unique whatever the insertion order, across many chunks', () => {
    const set = new SortedKeys(4);
    const all = keys(500);
    for (const key of shuffled(all)) expect(set.add(key)).toBe(true);
    expect(set.add('k00042')).toBe(false);
    expect(set.size).toBe(500);
    expect([...set.ascending()]).toEqual(all);
    expect([...set.descending()]).toEqual([...all].reverse());
  });

  it.each<[string, string | undefined, string[], string[]]>([
    ['from the start', undefined, ['b', 'd', 'f', 'h'], ['h', 'f', 'd', 'b']],
    ['after a present key', 'd', ['f', 'h'], ['b']],
    ['after an absent key', 'e', ['f', 'h'], ['d', 'b']],
    ['before everything', 'a', ['b', 'd', 'f', 'h'], []],
    ['past everything', 'z', [], ['h', 'f', 'd', 'b']],
  ])('seeks %s', (_case, cursor, ascending, descending) => {
    const set = new SortedKeys(2);
    for (const key of ['h', 'b', 'f', 'd']) set.add(key);
    expect([...set.ascending(cursor)]).toEqual(ascending);
    expect([...set.descending(cursor)]).toEqual(descending);
  });

  it('deletes, dropping emptied chunks, and answers has()', () => {
    const set = new SortedKeys(2);
    const all = keys(40);
    for (const key of all) set.add(key);
    for (const key of shuffled(all).slice(0, 30)) expect(set.delete(key)).toBe(true);
    expect(set.delete('nope')).toBe(false);
    const left = all.filter((key) => set.has(key));
    expect(left).toHaveLength(10);
    expect([...set.ascending()]).toEqual(left);
    expect([...set.descending(left[5])]).toEqual(left.slice(0, 5).reverse());
    for (const key of left) set.delete(key);
    expect(set.size).toBe(0);
    expect([...set.ascending()]).toEqual([]);
    expect([...set.descending()]).toEqual([]);
  });
});
