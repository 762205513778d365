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

  it('cuts off a watcher with more than its buffer waiting, at once, and leaves the others be', async () => {
    const log = new ChangeLog(0, 100);
    const cut: number[] = [];
    const slow = log.subscribe(0, 3, (err) => cut.push(err.lastRevision));
    const fast = log.subscribe(0, 3);
    const signal = new AbortController().signal;
    log.append('a', agent('a'));
    expect((await slow.next(signal))?.revision).toBe(1);
    expect((await fast.next(signal))?.revision).toBe(1);
    for (let i = 0; i < 4; i++) {
      log.append('a', agent('a'));
      expect((await fast.next(signal))?.revision).toBe(log.newest);
    }
    // Told from append itself, before anyone reads: the apply path never waits for a watcher.
    expect(cut).toEqual([1]);
    expect(log.watchers).toBe(1);
    await expect(slow.next(signal)).rejects.toMatchObject({
      code: Status.RESOURCE_EXHAUSTED,
      reason: 'SLOW_SUBSCRIBER',
      lastRevision: 1,
      message: expect.stringContaining('the last revision delivered was 1'),
    });
    // Resuming from the revision it was given delivers the rest, in order, once.
    const resumed = log.watch(1, signal, 3)[Symbol.asyncIterator]();
    expect(await take(resumed, 4)).toEqual([2, 3, 4, 5]);
  });

  it('does not count replayed history against the buffer', async () => {
    const log = new ChangeLog(0, 100);
    for (let i = 0; i < 20; i++) log.append('a', agent('a'));
    const signal = new AbortController().signal;
    const replay = log.subscribe(0, 2);
    log.append('a', agent('a'));
    log.append('a', agent('a'));
    const seen: number[] = [];
    for (let i = 0; i < 22; i++) seen.push((await replay.next(signal))!.revision);
    expect(seen).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
    replay.close();
    expect(log.watchers).toBe(0);
  });
});
