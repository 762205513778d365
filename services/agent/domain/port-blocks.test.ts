import { describe, expect, it } from 'vitest';
import { freeBlock, parsePortRange, portEnvironment } from './port-blocks.js';

describe('port blocks', () => {
  const plan = { first: 20000, last: 20005, perSession: 2 };

  it('hands out the lowest free block, skipping held ones, and none when all are held', () => {
    expect(freeBlock(plan, [])).toEqual([20000, 20001]);
    expect(freeBlock(plan, [[20000, 20001]])).toEqual([20002, 20003]);
    expect(freeBlock(plan, [[20002, 20003]])).toEqual([20000, 20001]);
    expect(
      freeBlock(plan, [
        [20000, 20001],
        [20002, 20003],
        [20004, 20005],
      ]),
    ).toBeUndefined();
  });

  it('never hands out a block that runs past the range', () => {
    expect(freeBlock({ first: 20000, last: 20002, perSession: 2 }, [[20000, 20001]])).toBeUndefined();
  });

  it('parses a range and says what is wrong with a bad one', () => {
    expect(parsePortRange('20000-20999')).toEqual({ first: 20000, last: 20999 });
    expect(parsePortRange('20999-20000')).toMatch(/starts after it ends/);
    expect(parsePortRange('80-90')).toMatch(/1024-65535/);
    expect(parsePortRange('lots')).toMatch(/FIRST-LAST/);
  });

  it('names the first port GROVE_PORT, and each GROVE_PORT_i', () => {
    expect(portEnvironment([20002, 20003])).toEqual({ GROVE_PORT: '20002', GROVE_PORT_1: '20002', GROVE_PORT_2: '20003' });
    expect(portEnvironment([])).toEqual({});
  });
});
