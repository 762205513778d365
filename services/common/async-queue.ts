/**
 * A FIFO with one consumer that drains it as an async iterable: the glue between code that
 * produces messages whenever it likes and a gRPC stream that takes them one at a time.
 * Producers that could outrun the consumer wait for room with `waitForSpace`, so memory stays
 * bounded by the stream's own backpressure.
 */
export class AsyncQueue<T> {
  private items: T[] = [];
  private ended = false;
  private failure: { error: unknown } | undefined;
  private wakeConsumer: (() => void) | undefined;
  private spaceWaiters: Array<() => void> = [];

  get size(): number {
    return this.items.length;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Answers false once the queue has ended: the item is dropped. */
  push(item: T): boolean {
    if (this.ended) return false;
    this.items.push(item);
    this.wake();
    return true;
  }

  /** No more items; the consumer drains what is queued, then ends (or throws `error`). */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) this.failure = { error };
    this.wake();
    this.releaseSpaceWaiters();
  }

  /** Resolves once fewer than `limit` items wait, or the queue ended, or `signal` aborted. */
  async waitForSpace(limit: number, signal?: AbortSignal): Promise<void> {
    while (this.items.length >= limit && !this.ended && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.spaceWaiters.push(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Yields items until the queue ends or `signal` aborts. One consumer only. */
  async *drain(signal?: AbortSignal): AsyncGenerator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        this.releaseSpaceWaiters();
        yield item;
        continue;
      }
      if (this.ended) {
        if (this.failure) throw this.failure.error;
        return;
      }
      if (signal?.aborted) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          this.wakeConsumer = undefined;
          resolve();
        };
        this.wakeConsumer = done;
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  private wake(): void {
    this.wakeConsumer?.();
  }

  private releaseSpaceWaiters(): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const release of waiters) release();
  }
}
