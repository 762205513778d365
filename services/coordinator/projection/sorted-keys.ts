/**
 * A set of strings kept in order, for paging: seek to the key after a page token in
 * O(log n), then walk forward (or backward) one key at a time.
 *
 * Stored as a list of sorted chunks of bounded size (the idea of Python's sortedcontainers):
 * an insert or delete moves at most one chunk's worth of entries instead of the whole array,
 * so keeping 10,000 sessions sorted while snapshots pour in stays cheap, and nothing is ever
 * re-sorted on read.
 */
export class SortedKeys {
  private chunks: string[][] = [];
  private count = 0;

  constructor(private readonly chunkSize = 256) {
    if (chunkSize < 2) throw new Error('chunkSize must be at least 2');
  }

  get size(): number {
    return this.count;
  }

  has(key: string): boolean {
    const chunk = this.chunks[this.chunkFor(key)];
    if (!chunk) return false;
    const i = lowerBound(chunk, key);
    return chunk[i] === key;
  }

  /** Answers false when the key was already there. */
  add(key: string): boolean {
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      this.count = 1;
      return true;
    }
    // Past the last key: it goes at the end of the last chunk.
    const c = Math.min(this.chunkFor(key), this.chunks.length - 1);
    const chunk = this.chunks[c]!;
    const i = lowerBound(chunk, key);
    if (chunk[i] === key) return false;
    chunk.splice(i, 0, key);
    this.count++;
    if (chunk.length > 2 * this.chunkSize) {
      this.chunks.splice(c + 1, 0, chunk.splice(this.chunkSize));
    }
    return true;
  }

  /** Answers false when the key was not there. */
  delete(key: string): boolean {
    const c = this.chunkFor(key);
    const chunk = this.chunks[c];
    if (!chunk) return false;
    const i = lowerBound(chunk, key);
    if (chunk[i] !== key) return false;
    chunk.splice(i, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(c, 1);
    return true;
  }

  /** Keys strictly after `after` (all keys when undefined), ascending. */
  *ascending(after?: string): Generator<string> {
    let c = after === undefined ? 0 : this.chunkFor(after);
    let i = after === undefined ? 0 : upperBound(this.chunks[c] ?? [], after);
    for (; c < this.chunks.length; c++, i = 0) {
      const chunk = this.chunks[c]!;
      for (; i < chunk.length; i++) yield chunk[i]!;
    }
  }

  /** Keys strictly before `before` (all keys when undefined), descending. */
  *descending(before?: string): Generator<string> {
    let c: number;
    let i: number;
    if (before === undefined) {
      c = this.chunks.length - 1;
      i = (this.chunks[c]?.length ?? 0) - 1;
    } else {
      c = Math.min(this.chunkFor(before), this.chunks.length - 1);
      i = lowerBound(this.chunks[c] ?? [], before) - 1;
    }
    while (c >= 0) {
      const chunk = this.chunks[c]!;
      for (; i >= 0; i--) yield chunk[i]!;
      c--;
      i = (this.chunks[c]?.length ?? 0) - 1;
    }
  }

  /** Index of the first chunk whose last key is >= key (chunks.length if none). */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (chunk[chunk.length - 1]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** First index whose key is >= key. */
function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose key is > key. */
function upperBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
