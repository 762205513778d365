/**
 * Serialises async work per key (a session, a repo): operations on one key run one at a
 * time in arrival order, different keys run concurrently.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(keys: string | string[], work: () => Promise<T>): Promise<T> {
    // Sorted so two callers locking overlapping sets can never deadlock.
    const sorted = [...new Set(Array.isArray(keys) ? keys : [keys])].sort();
    const releases: Array<() => void> = [];
    for (const key of sorted) releases.push(await this.acquire(key));
    try {
      return await work();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  private async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    await previous;
    return () => {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}
