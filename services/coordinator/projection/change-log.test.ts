import { Status } from 'nice-grpc-common';
import { describe, expect, it } from 'vitest';
import type { Agent } from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import { ChangeLog, type Change } from './change-log.js';

const agent = (id: string) => ({ $case: 'agent', value: { id } as Agent }) as const;

async function take(iterator: AsyncIterator<Change>, count: number): Promise<number[]> {
  const revisions: number[] = [];
  while (revisions.length < count) {
    const next = await iterator.next();
    if (next.done) break;
    revisions.push(next.value.revision);
  }
  return revisions;
}

describe('ChangeLog', () => {
  it('numbers changes from its base and streams retained, then live, changes', async () => {
    const log = new ChangeLog(1000, 4);
    expect([log.oldest, log.newest]).toEqual([1001, 1000]);
    log.append('a', agent('a'));
    log.append('a', agent('a'));
    const stop = new AbortController();
    const watch = log.watch(1000, stop.signal)[Symbol.asyncIterator]();
    expect(await take(watch, 2)).toEqual([1001, 1002]);
    const live = take(watch, 1);
    log.append('b', agent('b'));
    expect(await live).toEqual([1003]);
    stop.abort();
    expect((await watch.next()).done).toBe(true);
  });

  it('answers OUT_OF_RANGE for a revision that fell out of the ring, or one it never had', async () => {
    const log = new ChangeLog(0, 3);
    for (let i = 0; i < 5; i++) log.append('a', agent('a'));
    expect([log.oldest, log.newest]).toEqual([3, 5]);
    const signal = new AbortController().signal;
    await expect(log.watch(1, signal).next()).rejects.toMatchObject({ code: Status.OUT_OF_RANGE, reason: 'REVISION_COMPACTED' });
    await expect(log.watch(6, signal).next()).rejects.toMatchObject({ code: Status.OUT_OF_RANGE, reason: 'REVISION_AHEAD' });
    expect(await take(log.watch(2, signal)[Symbol.asyncIterator](), 3)).toEqual([3, 4, 5]);
  });

  it('ends a watcher that fell behind the ring, naming the last revision it received', async () => {
    const log = new ChangeLog(0, 3);
    log.append('a', agent('a'));
    const watch = log.watch(0, new AbortController().signal)[Symbol.asyncIterator]();
    expect(await take(watch, 1)).toEqual([1]);
    for (let i = 0; i < 4; i++) log.append('a', agent('a'));
    await expect(watch.next()).rejects.toMatchObject({
      code: Status.OUT_OF_RANGE,
      message: expect.stringContaining('the last revision delivered was 1'),
    });
  });
});
