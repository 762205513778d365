/** Where one watcher stands in the change log. */
export interface WatcherPosition {
  /** The newest revision it has been handed (or skipped as filtered out). */
  cursor: number;
  /**
   * The newest revision when it subscribed. What it asked to replay from before that is
   * history, served from the shared ring; only changes after it count against its buffer.
   */
  joinedAt: number;
}

/** Live changes appended since the watcher joined that it has not taken yet. */
export function pendingChanges(newest: number, watcher: WatcherPosition): number {
  return Math.max(0, newest - Math.max(watcher.cursor, watcher.joinedAt));
}

/**
 * The backpressure policy: a watcher may have at most `buffer` live changes waiting. One
 * more and it is cut off, instead of the coordinator holding (or waiting for) an unbounded
 * backlog on its behalf. A watcher that keeps up never gets near the bound: it takes each
 * change as it is appended.
 */
export function mustCut(newest: number, watcher: WatcherPosition, buffer: number): boolean {
  return pendingChanges(newest, watcher) > buffer;
}
