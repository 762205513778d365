import { describe, expect, it } from 'vitest';
import { formatArgv, shortCommit } from './format.js';

describe('formatArgv', () => {
  it('quotes only the words a shell would split or expand', () => {
    expect(formatArgv(['git', 'log', '--oneline', '-3', 'a/b.txt'])).toBe('git log --oneline -3 a/b.txt');
    expect(formatArgv(['sh', '-c', 'echo "hi" | wc -l'])).toBe(`sh -c 'echo "hi" | wc -l'`);
    expect(formatArgv(['echo', "it's", ''])).toBe(`echo 'it'\\''s' ''`);
  });
});

describe('shortCommit', () => {
  it('abbreviates to 12 digits, dash for none', () => {
    expect(shortCommit('0123456789abcdef0123')).toBe('0123456789ab');
    expect(shortCommit('')).toBe('-');
  });
});
