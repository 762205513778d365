import { Agent, Group, WatchResponse } from '../../gen/grove/coordinator/v1/coordinator_service.js';
import { Job, Repo, Session, SessionActivity, Task } from '../../gen/grove/agent/v1/resources.js';
import { authState, coordinatorCall, reportUnauthenticated } from './api.js';

export type LinkState = 'connecting' | 'live' | 'reconnecting';

interface Tables {
  agents: Map<string, Agent>;
  repos: Map<string, Repo & { agentId: string }>;
  sessions: Map<string, Session>;
  tasks: Map<string, Task>;
  jobs: Map<string, Job & { agentId: string }>;
  groups: Map<string, Group>;
}

const empty = (): Tables => ({
  agents: new Map(),
  repos: new Map(),
  sessions: new Map(),
  tasks: new Map(),
  jobs: new Map(),
  groups: new Map(),
});

/**
 * The fleet as the coordinator's watch shows it, and nothing else: an initial snapshot, then
 * changes; after a dropped connection it resumes from the last revision it applied, and
 * after OUT_OF_RANGE (compacted, a coordinator restart, or cut off as too slow) it lists
 * afresh. It invents no state: an agent the coordinator cannot hear shows UNKNOWN because
 * the coordinator says so.
 */
export class Live {
  tables: Tables = empty();
  state: LinkState = 'connecting';
  /** Bumped on every change: React re-renders on it (useSyncExternalStore). */
  version = 0;
  private revision = 0;
  private staging: Tables | undefined;
  private source: EventSource | undefined;
  private retries = 0;
  private listeners = new Set<() => void>();
  private scheduled = false;
  private stopped = false;
  /** Told when a session starts waiting for a person (for the badge and the notification). */
  onNeedsInput: (session: Session) => void = () => undefined;

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  snapshot = () => this.version;

  start(): void {
    this.stopped = false;
    this.connect(0);
  }

  stop(): void {
    this.stopped = true;
    this.source?.close();
  }

  private connect(from: number): void {
    if (this.stopped) return;
    this.source?.close();
    const source = new EventSource(`/api/watch?from=${from}`);
    this.source = source;
    if (from === 0) {
      this.staging = empty();
      void this.loadGroups();
    }
    source.addEventListener('change', (e) => {
      this.retries = 0;
      this.apply(WatchResponse.fromJSON(JSON.parse((e as MessageEvent<string>).data)));
    });
    source.addEventListener('relist', () => {
      source.close();
      this.revision = 0;
      this.connect(0);
    });
    const retry = () => {
      source.close();
      if (this.source !== source) return;
      this.state = 'reconnecting';
      this.changed();
      void authState().then(
        (auth) => !auth.authenticated && reportUnauthenticated(),
        () => undefined,
      );
      const delay = Math.min(250 * 2 ** this.retries++, 5000);
      // Mid-snapshot there is nothing to resume from: list again.
      setTimeout(() => this.connect(this.staging ? 0 : this.revision), delay);
    };
    source.addEventListener('failed', retry);
    source.onerror = retry;
  }

  private async loadGroups(): Promise<void> {
    try {
      const { groups } = (await coordinatorCall('ListGroups')) as { groups?: unknown[] };
      for (const json of groups ?? []) {
        const group = Group.fromJSON(json);
        this.tables.groups.set(group.id, group);
      }
      this.changed();
    } catch {
      // Shown once the watch is back; groups also arrive as changes.
    }
  }

  private apply(change: WatchResponse): void {
    const target = this.staging ?? this.tables;
    if (change.revision) this.revision = Math.max(this.revision, change.revision);
    const body = change.change;
    if (body?.$case === 'agent') target.agents.set(body.value.id, body.value);
    if (body?.$case === 'group') target.groups.set(body.value.id, body.value);
    if (body?.$case === 'event') {
      const { payload, deleted } = body.value;
      const put = <T>(map: Map<string, T>, key: string, value: T) => (deleted ? map.delete(key) : map.set(key, value));
      switch (payload?.$case) {
        case 'session': {
          const before = this.tables.sessions.get(payload.value.id);
          put(target.sessions, payload.value.id, payload.value);
          const waiting = payload.value.activity === SessionActivity.SESSION_ACTIVITY_NEEDS_INPUT;
          if (!this.staging && waiting && before?.activity !== SessionActivity.SESSION_ACTIVITY_NEEDS_INPUT)
            this.onNeedsInput(payload.value);
          break;
        }
        case 'task':
          put(target.tasks, payload.value.id, payload.value);
          break;
        case 'job':
          put(target.jobs, payload.value.id, { ...payload.value, agentId: change.agentId });
          break;
        case 'repo':
          put(target.repos, payload.value.id, { ...payload.value, agentId: change.agentId });
          break;
      }
    }
    if (change.snapshotDone && this.staging) {
      this.staging.groups = this.tables.groups;
      this.tables = this.staging;
      this.staging = undefined;
    }
    if (!this.staging && this.state !== 'live') this.state = 'live';
    this.changed();
  }

  /** One render per turn of the event loop however many changes arrive (a hidden tab keeps going, slower). */
  private changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.version++;
      this.listeners.forEach((listener) => listener());
    }, 0);
  }
}
