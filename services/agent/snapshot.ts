import type { Snapshot } from '../../gen/grove/agent/v1/resources.js';
import { toRepoProto } from './repos/repo-mapper.js';
import { toSessionProto } from './sessions/session-mapper.js';
import { RepoSchema, SessionSchema, WorktreeSchema } from './store/entities.js';
import type { Store } from './store/store.js';

/** Reads every resource the agent owns in one transaction, with the revision it reflects. */
export async function takeSnapshot(store: Store): Promise<Snapshot> {
  return store.readConsistent(async (em) => {
    const repos = await em.find(RepoSchema, {}, { orderBy: { id: 'asc' } });
    const sessions = await em.find(SessionSchema, {}, { orderBy: { id: 'asc' } });
    const worktrees = await em.find(WorktreeSchema, {}, { orderBy: { repoName: 'asc' } });
    return {
      repos: repos.map(toRepoProto),
      sessions: sessions.map((s) =>
        toSessionProto(
          s,
          worktrees.filter((w) => w.sessionId === s.id),
          false,
        ),
      ),
      tasks: [],
      jobs: [],
      syncs: [],
      locks: [],
    };
  });
}
