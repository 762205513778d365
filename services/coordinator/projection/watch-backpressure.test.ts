import { describe, expect, it } from 'vitest';
import { mustCut, pendingChanges } from './watch-backpressure.js';

describe('watch backpressure policy', () => {
  it.each<[string, number, number, number, number, number, boolean]>([
    // case, newest, cursor, joinedAt, buffer, pending, cut
    ['caught up', 100, 100, 50, 10, 0, false],
    ['a few behind', 105, 100, 50, 10, 5, false],
    ['exactly the buffer behind', 110, 100, 50, 10, 10, false],
    ['one past the buffer', 111, 100, 50, 10, 11, true],
    ['replaying history: only changes since joining count', 60, 10, 55, 10, 5, false],
    ['replaying history, and live changes piled up', 70, 10, 55, 10, 15, true],
    ['a buffer of one', 102, 100, 100, 1, 2, true],
  ])('%s', (_case, newest, cursor, joinedAt, buffer, pending, cut) => {
    expect(pendingChanges(newest, { cursor, joinedAt })).toBe(pending);
    expect(mustCut(newest, { cursor, joinedAt }, buffer)).toBe(cut);
  });
});
