import { describe, expect, it } from 'vitest';
import {
  SessionActivity,
  SessionState,
  TaskState,
  type Event,
  type Repo,
  type Session,
  type Snapshot,
  Task,
} from '../../../gen/grove/agent/v1/resources.js';
import { AgentProjection } from './agent-projection.js';

const repo = (id: string, name = id): Repo => ({
  id,
  name,
  path: `/src/${name}`,
  defaultBranch: 'main',
  createTime: undefined,
  keepIgnored: [],
  setup: '',
  teardown: '',
  copy: [],
});
const session = (id: string): Session => ({
  id,
  title: '',
  branch: id,
  base: 'main',
  state: SessionState.SESSION_STATE_ACTIVE,
  activity: SessionActivity.SESSION_ACTIVITY_IDLE,
  worktrees: [],
  labels: {},
  createTime: undefined,
  updateTime: undefined,
  agentId: '',
  lastSeenTime: undefined,
  pendingJobId: '',
  lastError: '',
  landings: [],
  ports: [],
});
const task = (id: string, state: TaskState): Task => ({
  ...Task.fromPartial({}),
  id,
  sessionId: 's1',
  seq: 1,
  prompt: '',
  argv: [],
  repoId: '',
  state,
  reason: '',
  pid: 0,
  exitCode: 0,
  exitSignal: '',
  outputTail: '',
  createTime: undefined,
  startTime: undefined,
  endTime: undefined,
  agentId: '',
});
const snapshot = (revision: number, repos: Repo[], sessions: Session[] = []): Snapshot => ({
  revision,
  repos,
  sessions,
  tasks: [],
  jobs: [],
  syncs: [],
  locks: [],
});
const event = (revision: number, payload: Event['payload'], deleted = false): Event => ({
  revision,
  type: 'x',
  resource: 'x',
  time: undefined,
  deleted,
  payload,
});

describe('AgentProjection', () => {
  it('takes nothing before its first snapshot', () => {
    const projection = new AgentProjection();
    expect(projection.apply(event(1, { $case: 'repo', value: repo('r1') }))).toBe('gap');
    expect(projection.repos.size).toBe(0);
  });

  it('upserts and deletes by id, in revision order', () => {
    const projection = new AgentProjection();
    projection.replace(snapshot(5, [repo('r1')]));
    expect(projection.apply(event(6, { $case: 'repo', value: repo('r2') }))).toBe('applied');
    expect(projection.apply(event(7, { $case: 'repo', value: repo('r1', 'renamed') }))).toBe('applied');
    expect(projection.apply(event(8, { $case: 'repo', value: repo('r2') }, true))).toBe('applied');
    expect(projection.apply(event(9, { $case: 'session', value: session('s1') }))).toBe('applied');
    expect(projection.apply(event(10, { $case: 'task', value: task('t1', TaskState.TASK_STATE_RUNNING) }))).toBe('applied');
    expect(projection.apply(event(11, { $case: 'task', value: task('t1', TaskState.TASK_STATE_SUCCEEDED) }))).toBe('applied');
    expect([...projection.repos.values()].map((r) => r.name)).toEqual(['renamed']);
    expect([...projection.sessions.keys()]).toEqual(['s1']);
    expect(projection.tasks.get('t1')?.state).toBe(TaskState.TASK_STATE_SUCCEEDED);
    expect(projection.appliedRevision).toBe(11);
  });

  it('ignores replays and refuses a gap without changing anything', () => {
    const projection = new AgentProjection();
    projection.replace(snapshot(5, [repo('r1')]));
    expect(projection.apply(event(5, { $case: 'repo', value: repo('r1') }, true))).toBe('stale');
    expect(projection.apply(event(7, { $case: 'repo', value: repo('r7') }))).toBe('gap');
    expect([...projection.repos.keys()]).toEqual(['r1']);
    expect(projection.appliedRevision).toBe(5);
  });

  it('advances past events it does not project', () => {
    const projection = new AgentProjection();
    projection.replace(snapshot(0, []));
    const recovered = {
      tasksReadopted: 0,
      tasksFinalized: 0,
      tasksInterrupted: 0,
      locksReleased: 0,
      jobsRetried: 0,
      jobsFailed: 0,
      removalsRetried: 0,
    };
    expect(projection.apply(event(1, { $case: 'recovered', value: recovered }))).toBe('applied');
    expect(projection.apply(event(2, undefined))).toBe('applied');
    expect(projection.appliedRevision).toBe(2);
  });

  it('replaces everything on a snapshot: what the snapshot lacks is gone', () => {
    const projection = new AgentProjection();
    projection.replace(snapshot(3, [repo('r1'), repo('r2')], [session('s1')]));
    // The difference comes back as events: changed and new upserted, missing deleted.
    const changes = projection.replace(snapshot(9, [repo('r1'), repo('r2', 'renamed'), repo('r3')]));
    expect(changes.map((e) => [e.type, e.resource, e.deleted, e.revision])).toEqual([
      ['repo.resynced', 'repos/r2', false, 9],
      ['repo.resynced', 'repos/r3', false, 9],
      ['session.resynced', 'sessions/s1', true, 9],
    ]);
    projection.replace(snapshot(9, [repo('r3')]));
    expect([...projection.repos.keys()]).toEqual(['r3']);
    expect(projection.sessions.size).toBe(0);
    expect(projection.appliedRevision).toBe(9);
    expect(projection.synced).toBe(true);
  });
});
