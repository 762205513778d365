import type { Event } from '../../../gen/grove/agent/v1/resources.js';
import type { Agent, Group } from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import { mustCut, pendingChanges } from './watch-backpressure.js';
import { revisionAhead, revisionCompacted, slowSubscriber, type WatchEndedError } from './watch-ended-error.js';

/** One change to the projection: an agent's resource changed, or the agent itself did. */
export interface Change {
  /** Coordinator revision: numbers every change, across agents. */
  revision: number;
  agentId: string;
  body: { $case: 'event'; value: Event } | { $case: 'agent'; value: Agent } | { $case: 'group'; value: Group };
}

export const DEFAULT_CHANGE_CAPACITY = 10_000;
export const DEFAULT_WATCH_BUFFER = 1000;

/**
 * The newest changes, in memory, in a fixed ring: what Watch streams from. The ring is the
 * only copy of a change, shared by every watcher; each watcher is a cursor into it. A
 * watcher's *buffer* is the run of changes between its cursor and the newest, bounded per
 * watcher: `append` (the projection's apply path) checks each watcher's backlog
 * synchronously and cuts off the one that exceeds it — it never waits for a watcher, and a
 * cut watcher costs nothing more. Its stream then ends RESOURCE_EXHAUSTED naming the last
 * revision it was handed, from which it can watch again.
 *
 * Revisions start at `base`, which grows with every coordinator start: a client resuming
 * with a revision from an earlier coordinator process finds it "compacted", never mistaken
 * for a revision of this one.
 */
export class ChangeLog {
  private readonly ring: Array<Change | undefined>;
  private newestRevision: number;
  private readonly subscriptions = new Set<ChangeSubscription>();

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

  /** How many watchers are subscribed now (cut ones are gone). */
  get watchers(): number {
    return this.subscriptions.size;
  }

  append(agentId: string, body: Change['body']): Change {
    const change: Change = { revision: this.newestRevision + 1, agentId, body };
    this.ring[change.revision % this.capacity] = change;
    this.newestRevision = change.revision;
    for (const subscription of this.subscriptions) subscription.appended(change.revision);
    return change;
  }

  /** The retained change with this revision. */
  at(revision: number): Change | undefined {
    if (revision < this.oldest || revision > this.newestRevision) return undefined;
    return this.ring[revision % this.capacity];
  }

  /**
   * Subscribes after revision `after`: the retained changes after it, then live ones, with
   * at most `buffer` live changes waiting. Synchronous, so a caller that reads state and
   * subscribes in one turn misses nothing between the two. Throws OUT_OF_RANGE for a
   * revision no longer retained or never issued.
   */
  subscribe(after: number, buffer = DEFAULT_WATCH_BUFFER, onCut?: (error: WatchEndedError) => void): ChangeSubscription {
    if (after > this.newestRevision) throw revisionAhead(after, this.newestRevision);
    if (after < this.oldest - 1) throw revisionCompacted(after, this.oldest);
    const subscription = new ChangeSubscription(this, after, buffer, () => this.subscriptions.delete(subscription), onCut);
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Changes after `after`, retained then live, until `signal` aborts. */
  async *watch(after: number, signal: AbortSignal, buffer = DEFAULT_WATCH_BUFFER): AsyncGenerator<Change> {
    const subscription = this.subscribe(after, buffer);
    try {
      for (;;) {
        const change = await subscription.next(signal);
        if (!change) return;
        yield change;
      }
    } finally {
      subscription.close();
    }
  }
}

/** One watcher's cursor into the change log. */
export class ChangeSubscription {
  private cursorRevision: number;
  private readonly joinedAt: number;
  private ended: WatchEndedError | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  /** The signal `next` was last given: listened to once, not once per change. */
  private signal: AbortSignal | undefined;
  private readonly onAbort = () => this.wakeUp();

  constructor(
    private readonly log: ChangeLog,
    after: number,
    readonly buffer: number,
    private readonly detach: () => void,
    /** Told at once, from the apply path, when the watcher is cut off: keep it cheap. */
    private readonly onCut?: (error: WatchEndedError) => void,
  ) {
    this.cursorRevision = after;
    this.joinedAt = log.newest;
  }

  /** The newest revision handed out (or skipped by the caller's filter: it takes them all). */
  get cursor(): number {
    return this.cursorRevision;
  }

  /** Called by the log on every append: the apply path, so it only compares and flags. */
  appended(newest: number): void {
    const position = { cursor: this.cursorRevision, joinedAt: this.joinedAt };
    if (mustCut(newest, position, this.buffer)) {
      this.ended = slowSubscriber(this.cursorRevision, pendingChanges(newest, position), this.buffer);
      this.detach();
      this.onCut?.(this.ended);
    }
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private listenTo(signal: AbortSignal): void {
    if (this.signal === signal) return;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.signal = signal;
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /**
   * The next change, waiting for one if need be; undefined once `signal` aborts. Throws the
   * WatchEndedError that ended the subscription: cut off as too slow, or overtaken by the
   * ring.
   */
  async next(signal: AbortSignal): Promise<Change | undefined> {
    this.listenTo(signal);
    for (;;) {
      if (this.ended) throw this.ended;
      if (signal.aborted || this.closed) return undefined;
      if (this.cursorRevision < this.log.oldest - 1) {
        this.ended = revisionCompacted(this.cursorRevision, this.log.oldest);
        this.detach();
        continue;
      }
      if (this.cursorRevision < this.log.newest) {
        const change = this.log.at(this.cursorRevision + 1)!;
        this.cursorRevision = change.revision;
        return change;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  close(): void {
    this.closed = true;
    this.detach();
    this.signal?.removeEventListener('abort', this.onAbort);
    this.wakeUp();
  }
}
