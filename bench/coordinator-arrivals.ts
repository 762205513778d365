import { performance } from 'node:perf_hooks';

/**
 * When each copy of a marked change reached a watcher. A change may arrive before anyone
 * waits for it (the watcher can beat the call that made it), so arrivals are kept until
 * claimed.
 */
export class Arrivals {
  private readonly seen = new Map<string, number[]>();
  private readonly waiting = new Map<string, { count: number; resolve: (times: number[]) => void }>();

  arrived(marker: string, at = performance.now()): void {
    const times = this.seen.get(marker) ?? [];
    times.push(at);
    this.seen.set(marker, times);
    const waiter = this.waiting.get(marker);
    if (waiter && times.length >= waiter.count) {
      this.waiting.delete(marker);
      this.seen.delete(marker);
      waiter.resolve(times);
    }
  }

  /** Arrival times of `count` copies of `marker`; rejects after `timeoutMs`. */
  wait(marker: string, count: number, timeoutMs = 10_000): Promise<number[]> {
    const times = this.seen.get(marker) ?? [];
    if (times.length >= count) {
      this.seen.delete(marker);
      return Promise.resolve(times);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(marker);
        reject(new Error(`only ${this.seen.get(marker)?.length ?? 0} of ${count} copies of ${marker} arrived`));
      }, timeoutMs);
      this.waiting.set(marker, {
        count,
        resolve: (arrived) => {
          clearTimeout(timer);
          resolve(arrived);
        },
      });
    });
  }
}
