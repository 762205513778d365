import { describe, expect, it } from 'vitest';
import { admittedSessions } from './admission.js';

const waiting = (sessionId: string, at: number, id = `tsk_${at}`) => ({ sessionId, oldestQueuedAt: new Date(at), oldestQueuedId: id });

describe('admittedSessions', () => {
  it('admits every waiting session without a bound', () => {
    expect(admittedSessions([waiting('a', 2), waiting('b', 1)], 7, 0)).toEqual(new Set(['a', 'b']));
  });

  it('gives the free slots to the sessions waiting longest', () => {
    const all = [waiting('late', 30), waiting('first', 10), waiting('second', 20)];
    expect(admittedSessions(all, 1, 3)).toEqual(new Set(['first', 'second']));
    expect(admittedSessions(all, 0, 1)).toEqual(new Set(['first']));
  });

  it('admits nobody while the agent is full (or over, after the bound was lowered)', () => {
    expect(admittedSessions([waiting('a', 1)], 2, 2)).toEqual(new Set());
    expect(admittedSessions([waiting('a', 1)], 5, 2)).toEqual(new Set());
  });

  it('breaks a tie in queue time by task id', () => {
    expect(admittedSessions([waiting('b', 5, 'tsk_b'), waiting('a', 5, 'tsk_a')], 0, 1)).toEqual(new Set(['a']));
  });
});
