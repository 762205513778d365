import { describe, expect, it } from 'vitest';
import { ProgressLine } from './progress-line.js';

describe('ProgressLine', () => {
  it('prints a line per change when not on a terminal, skipping repeats', () => {
    let out = '';
    const line = new ProgressLine((text) => (out += text), false);
    line.update(0, 'queued');
    line.update(0, 'queued');
    line.update(42.4, 'rebasing x onto main');
    line.update(100, 'done');
    line.finish();
    expect(out).toBe('0% queued\n42% rebasing x onto main\n100% done\n');
  });

  it('redraws one bar in place on a terminal and ends its line once', () => {
    let out = '';
    const line = new ProgressLine((text) => (out += text), true);
    line.update(50, 'half');
    line.update(150, 'over');
    line.finish();
    line.finish();
    expect(out).toBe(`\r\x1b[K[${'#'.repeat(12)}${'.'.repeat(12)}]  50% half\r\x1b[K[${'#'.repeat(24)}] 100% over\n`);
  });
});
