import type { RecoverySummary } from '../../../gen/grove/agent/v1/resources.js';
import type { SessionService } from '../sessions/session-service.js';
import type { Store } from '../store/store.js';
import type { TaskService } from '../tasks/task-service.js';
import type { JobService } from '../jobs/job-service.js';
import type { SyncService } from '../sync/sync-service.js';

/**
 * Recovery is start-up: before serving, the database is reconciled with reality (worktrees
 * on disk, runner processes, exit files, lock holders) and one `agent.recovered` event
 * carries the counts. Every step is idempotent, so a second run changes nothing.
 */
export async function recover(
  store: Store,
  sessions: SessionService,
  tasks: TaskService,
  jobs: JobService,
  syncs: SyncService,
): Promise<RecoverySummary> {
  const worktrees = await sessions.reconcile();
  const taskCounts = await tasks.recover();
  const jobCounts = await jobs.recover();
  // Syncs are re-validated against the checkout: they may come back PAUSED with causes.
  await syncs.probeAll();
  const summary: RecoverySummary = {
    ...taskCounts,
    ...jobCounts,
    removalsRetried: worktrees.removalsRetried,
  };
  await store.transact(async (tx) => {
    tx.emit({ type: 'agent.recovered', resource: 'agent', payload: { $case: 'recovered', value: summary } });
  });
  return summary;
}
