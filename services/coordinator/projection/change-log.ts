import type { Event } from '../../../gen/grove/agent/v1/resources.js';
import type { Agent } from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import { outOfRange } from '../../common/errors.js';

/** One change to the projection: an agent's resource changed, or the agent itself did. */
export interface Change {
  /** Coordinator revision: numbers every change, across agents. */
  revision: number;
  agentId: string;
  body: { $case: 'event'; value: Event } | { $case: 'agent'; value: Agent };
}

export const DEFAULT_CHANGE_CAPACITY = 10_000;

/**
 * The newest changes, in memory, in a fixed ring: what Watch streams from. The ring is the
 * only buffer, shared by every watcher, so a slow watcher costs nothing: it falls behind the
 * ring and its stream ends OUT_OF_RANGE, naming the last revision it received, so it can
 * list again and resume from the list's revision.
 *
 * Revisions start at `base`, which grows with every coordinator start: a client resuming
 * with a revision from an earlier coordinator process finds it "compacted", never mistaken
 * for a revision of this one.
 */
export class ChangeLog {
  private readonly ring: Array<Change | undefined>;
  private newestRevision: number;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly base: number,
    private readonly capacity = DEFAULT_CHANGE_CAPACITY,
  ) {
    this.ring = new Array<Change | undefined>(capacity);
    this.newestRevision = base;
  }

  get newest(): number {
    return this.newestRevision;
  }

  /** Oldest revision still held (newest + 1 while empty). */
  get oldest(): number {
    return Math.max(this.base + 1, this.newestRevision - this.capacity + 1);
  }

  append(agentId: string, body: Change['body']): Change {
    const change: Change = { revision: this.newestRevision + 1, agentId, body };
    this.ring[change.revision % this.capacity] = change;
    this.newestRevision = change.revision;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
    return change;
  }

  /** Changes after `after`, retained then live, until `signal` aborts. */
  async *watch(after: number, signal: AbortSignal): AsyncGenerator<Change> {
    if (after > this.newestRevision) {
      throw outOfRange(
        'REVISION_AHEAD',
        `revision ${after} is ahead of this coordinator's newest revision ${this.newestRevision} (it restarted?); list again`,
      );
    }
    let cursor = after;
    while (!signal.aborted) {
      if (cursor < this.oldest - 1) {
        throw outOfRange(
          'REVISION_COMPACTED',
          `changes after revision ${cursor} are no longer retained (oldest is ${this.oldest}); ` +
            `the last revision delivered was ${cursor}; list again and watch from the list's revision`,
        );
      }
      if (cursor < this.newestRevision) {
        const change = this.ring[(cursor + 1) % this.capacity]!;
        cursor = change.revision;
        yield change;
        continue;
      }
      await this.nextAppend(signal);
    }
  }

  private nextAppend(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
