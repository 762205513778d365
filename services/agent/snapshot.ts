import { sessionActivity, type TaskActivityName } from './domain/task-activity.js';
import type { Snapshot } from '../../gen/grove/agent/v1/resources.js';
import { toRepoProto } from './repos/repo-mapper.js';
import { toSessionProto } from './sessions/session-mapper.js';
import { JobSchema, LockSchema, RepoSchema, SyncSchema, SessionSchema, TaskSchema, WorktreeSchema } from './store/entities.js';
import { toLockProto } from './procs/lock-mapper.js';
import { toTaskProto } from './tasks/task-mapper.js';
import { toJobProto } from './jobs/job-mapper.js';
import { toSyncProto } from './sync/sync-service.js';

/** Recent tasks per snapshot: a projection needs the live ones and some history, not all. */
const SNAPSHOT_TASKS = 5000;
import type { Store } from './store/store.js';

/** Reads every resource the agent owns in one transaction, with the revision it reflects. */
export async function takeSnapshot(store: Store): Promise<Snapshot> {
  return store.readConsistent(async (em) => {
    const repos = await em.find(RepoSchema, {}, { orderBy: { id: 'asc' } });
    const sessions = await em.find(SessionSchema, {}, { orderBy: { id: 'asc' } });
    const worktrees = await em.find(WorktreeSchema, {}, { orderBy: { repoName: 'asc' } });
    // Recent history plus everything unfinished, however old: live work is never cut off.
    const recent = await em.find(TaskSchema, {}, { orderBy: { id: 'desc' }, limit: SNAPSHOT_TASKS });
    const live = await em.find(TaskSchema, { state: { $in: ['QUEUED', 'RUNNING'] } });
    const tasks = [...new Map([...recent, ...live].map((t) => [t.id, t])).values()].sort((a, b) => b.id.localeCompare(a.id));
    const runningBySession = new Map<string, TaskActivityName[]>();
    for (const task of live.filter((t) => t.state === 'RUNNING')) {
      runningBySession.set(task.sessionId, [...(runningBySession.get(task.sessionId) ?? []), task.activity || 'WORKING']);
    }
    const locks = await em.find(LockSchema, {}, { orderBy: { directory: 'asc' } });
    const recentJobs = await em.find(JobSchema, {}, { orderBy: { id: 'desc' }, limit: SNAPSHOT_TASKS });
    const liveJobs = await em.find(JobSchema, { state: { $in: ['QUEUED', 'RUNNING'] } });
    const jobs = [...new Map([...recentJobs, ...liveJobs].map((j) => [j.id, j])).values()].sort((a, b) => b.id.localeCompare(a.id));
    return {
      repos: repos.map(toRepoProto),
      sessions: sessions.map((s) =>
        toSessionProto(
          s,
          worktrees.filter((w) => w.sessionId === s.id),
          sessionActivity(runningBySession.get(s.id) ?? []),
        ),
      ),
      tasks: tasks.reverse().map(toTaskProto),
      jobs: jobs.reverse().map(toJobProto),
      syncs: (await em.find(SyncSchema, {}, { orderBy: { repoId: 'asc' } })).map(toSyncProto),
      locks: locks.map(toLockProto),
    };
  });
}
