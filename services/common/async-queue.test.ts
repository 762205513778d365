import { describe, expect, it } from 'vitest';
import { AsyncQueue } from './async-queue.js';

describe('AsyncQueue', () => {
  it('delivers in order, including items pushed while the consumer waits, then ends', async () => {
    const queue = new AsyncQueue<number>();
    queue.push(1);
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const item of queue.drain()) seen.push(item);
    })();
    await Promise.resolve();
    queue.push(2);
    queue.push(3);
    queue.end();
    expect(queue.push(4)).toBe(false);
    await consumer;
    expect(seen).toEqual([1, 2, 3]);
  });

  it('holds a producer back until the consumer makes room', async () => {
    const queue = new AsyncQueue<number>();
    queue.push(1);
    queue.push(2);
    let released = false;
    const producer = queue.waitForSpace(2).then(() => (released = true));
    await new Promise((r) => setImmediate(r));
    expect(released).toBe(false);
    const iterator = queue.drain()[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toBe(1);
    await producer;
    expect(released).toBe(true);
  });

  it('stops the consumer when its signal aborts, and rethrows the error it ended with', async () => {
    const aborted = new AbortController();
    const idle = new AsyncQueue<number>();
    const consumer = (async () => {
      for await (const _ of idle.drain(aborted.signal)) void _;
    })();
    aborted.abort();
    await consumer;
    const failed = new AsyncQueue<number>();
    failed.end(new Error('broken'));
    await expect(
      (async () => {
        for await (const _ of failed.drain()) void _;
      })(),
    ).rejects.toThrow('broken');
  });
});
