import { Job, Lock, Repo, Session, Sync, Task, type Event, type Snapshot } from '../../../gen/grove/agent/v1/resources.js';

/** `stale`: already applied (a replay); `gap`: the projection cannot take it without a snapshot. */
export type ApplyOutcome = 'applied' | 'stale' | 'gap';

/**
 * What one agent owns, as last reported: a pure fold of its snapshot and events. Events
 * carry whole resources, so applying one is an upsert (or a delete) by id; nothing here
 * needs to know what the change meant.
 */
export class AgentProjection {
  /** A snapshot was applied, so the maps are complete up to `appliedRevision`. */
  synced = false;
  appliedRevision = 0;
  readonly repos = new Map<string, Repo>();
  readonly sessions = new Map<string, Session>();
  readonly tasks = new Map<string, Task>();
  readonly jobs = new Map<string, Job>();
  /** Keyed by repo id: a repo syncs with at most one session at a time. */
  readonly syncs = new Map<string, Sync>();
  /** Keyed by directory: a lock guards one directory. */
  readonly locks = new Map<string, Lock>();

  /**
   * Replaces everything with the snapshot's state, answering the difference as events (type
   * `<kind>.resynced`, `deleted` for what is gone) so watchers see a resync like any change.
   */
  replace(snapshot: Snapshot): Event[] {
    const at = { revision: snapshot.revision, time: new Date() };
    const changes = [
      ...resync(this.repos, snapshot.repos, (r) => r.id, Repo, 'repo', 'repos', at),
      ...resync(this.sessions, snapshot.sessions, (s) => s.id, Session, 'session', 'sessions', at),
      ...resync(this.tasks, snapshot.tasks, (t) => t.id, Task, 'task', 'tasks', at),
      ...resync(this.jobs, snapshot.jobs, (j) => j.id, Job, 'job', 'jobs', at),
      ...resync(this.syncs, snapshot.syncs, (s) => s.repoId, Sync, 'sync', 'syncs', at),
      ...resync(this.locks, snapshot.locks, (l) => l.directory, Lock, 'lock', 'locks', at),
    ];
    this.appliedRevision = snapshot.revision;
    this.synced = true;
    return changes;
  }

  /** Everything held, as upsert events of type `<kind>.snapshot`: a watch's initial state. */
  snapshotEvents(): Event[] {
    const at = { revision: this.appliedRevision, time: new Date() };
    return [
      ...[...this.repos].map(([key, value]) => toEvent('repo', 'repos', key, value, 'snapshot', false, at)),
      ...[...this.sessions].map(([key, value]) => toEvent('session', 'sessions', key, value, 'snapshot', false, at)),
      ...[...this.tasks].map(([key, value]) => toEvent('task', 'tasks', key, value, 'snapshot', false, at)),
      ...[...this.jobs].map(([key, value]) => toEvent('job', 'jobs', key, value, 'snapshot', false, at)),
      ...[...this.syncs].map(([key, value]) => toEvent('sync', 'syncs', key, value, 'snapshot', false, at)),
      ...[...this.locks].map(([key, value]) => toEvent('lock', 'locks', key, value, 'snapshot', false, at)),
    ];
  }

  apply(event: Event): ApplyOutcome {
    if (!this.synced) return 'gap';
    if (event.revision <= this.appliedRevision) return 'stale';
    // The agent's revisions have no holes, so anything but the next one means a lost event.
    if (event.revision !== this.appliedRevision + 1) return 'gap';
    this.appliedRevision = event.revision;
    const payload = event.payload;
    switch (payload?.$case) {
      case 'repo':
        return put(this.repos, payload.value.id, payload.value, event.deleted);
      case 'session':
        return put(this.sessions, payload.value.id, payload.value, event.deleted);
      case 'task':
        return put(this.tasks, payload.value.id, payload.value, event.deleted);
      case 'job':
        return put(this.jobs, payload.value.id, payload.value, event.deleted);
      case 'sync':
        return put(this.syncs, payload.value.repoId, payload.value, event.deleted);
      case 'lock':
        return put(this.locks, payload.value.directory, payload.value, event.deleted);
      default:
        // Stashes and recovery summaries are not in snapshots, so projecting them from events
        // alone would make the view depend on when the coordinator last restarted.
        return 'applied';
    }
  }
}

type ProjectedCase = 'repo' | 'session' | 'task' | 'job' | 'sync' | 'lock';

/** Fills `map` with `items`, answering an event for every entry that changed or went. */
function resync<T>(
  map: Map<string, T>,
  items: T[],
  keyOf: (item: T) => string,
  codec: { encode(message: T): { finish(): Uint8Array } },
  kind: ProjectedCase,
  collection: string,
  at: { revision: number; time: Date },
): Event[] {
  const encoded = (item: T) => Buffer.from(codec.encode(item).finish());
  const changes: Event[] = [];
  const event = (key: string, value: T, deleted: boolean) => toEvent(kind, collection, key, value, 'resynced', deleted, at);
  const previous = new Map(map);
  map.clear();
  for (const item of items) {
    const key = keyOf(item);
    map.set(key, item);
    const before = previous.get(key);
    previous.delete(key);
    if (before === undefined || !encoded(before).equals(encoded(item))) changes.push(event(key, item, false));
  }
  for (const [key, gone] of previous) changes.push(event(key, gone, true));
  return changes;
}

function toEvent<T>(
  kind: ProjectedCase,
  collection: string,
  key: string,
  value: T,
  verb: string,
  deleted: boolean,
  at: { revision: number; time: Date },
): Event {
  return {
    revision: at.revision,
    type: `${kind}.${verb}`,
    resource: `${collection}/${key}`,
    time: at.time,
    deleted,
    payload: { $case: kind, value } as Event['payload'],
  };
}

function put<T>(map: Map<string, T>, key: string, value: T, deleted: boolean): 'applied' {
  if (deleted) map.delete(key);
  else map.set(key, value);
  return 'applied';
}
