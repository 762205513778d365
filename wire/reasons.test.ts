import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GROVE_REASONS, isGroveReason } from './reasons.js';

/** Every reason literal the services put on the wire, found in their sources. */
function reasonsInSources(dir: string): Set<string> {
  const found = new Set<string>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      for (const reason of reasonsInSources(path)) found.add(reason);
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) {
      const text = readFileSync(path, 'utf8');
      for (const match of text.matchAll(
        /(?:invalidArgument|notFound|alreadyExists|failedPrecondition|outOfRange|unavailable|unauthenticated|resourceExhausted|deadlineExceeded|permissionDenied)\(\s*'([A-Z_]+)'/g,
      )) {
        found.add(match[1]!);
      }
    }
  }
  return found;
}

describe('the reason catalogue', () => {
  it('is sorted, without repeats, in UPPER_SNAKE', () => {
    expect([...GROVE_REASONS]).toEqual([...new Set(GROVE_REASONS)].sort());
    for (const reason of GROVE_REASONS) expect(reason).toMatch(/^[A-Z][A-Z_]*[A-Z]$/);
  });

  it('names every reason the services give (the factories accept no other)', () => {
    const used = reasonsInSources(join(import.meta.dirname, '../services'));
    expect(used.size).toBeGreaterThan(50);
    expect([...used].filter((r) => !isGroveReason(r))).toEqual([]);
  });
});
