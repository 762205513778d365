export type JobKindName =
  | 'sync_repo'
  | 'register_branch'
  | 'rebase_branch'
  | 'restack_branch'
  | 'reparent_branch'
  | 'cleanup_session'
  | 'restore_sessions'
  | 'land_session';
export type JobStateName = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** How a job's state moves: each move from the states it is allowed in. */
export type JobMove = 'start' | 'succeed' | 'fail' | 'cancel' | 'requeue';

const JOB_MOVES: Record<JobMove, { from: readonly JobStateName[]; to: JobStateName }> = {
  start: { from: ['QUEUED'], to: 'RUNNING' },
  succeed: { from: ['RUNNING'], to: 'SUCCEEDED' },
  fail: { from: ['RUNNING'], to: 'FAILED' },
  cancel: { from: ['QUEUED', 'RUNNING'], to: 'CANCELLED' },
  // After a restart, an idempotent job that was running goes back to the queue.
  requeue: { from: ['RUNNING'], to: 'QUEUED' },
};

/** The job's state after `move`, or undefined when the move is not allowed from `from`. */
export function nextJobState(from: JobStateName, move: JobMove): JobStateName | undefined {
  const rule = JOB_MOVES[move];
  return rule.from.includes(from) ? rule.to : undefined;
}

export interface JobKindRule {
  /** Safe to run again from the start after an interruption. */
  idempotent: boolean;
  needsRepo: boolean;
  needsBranch: boolean;
  needsBase: boolean;
  needsSession: boolean;
  needsSessions: boolean;
}

const rule = (r: Partial<JobKindRule>): JobKindRule => ({
  idempotent: false,
  needsRepo: true,
  needsBranch: false,
  needsBase: false,
  needsSession: false,
  needsSessions: false,
  ...r,
});

export const JOB_KINDS: Record<JobKindName, JobKindRule> = {
  sync_repo: rule({ idempotent: true }),
  register_branch: rule({ idempotent: true, needsBranch: true }),
  rebase_branch: rule({ needsBranch: true }),
  restack_branch: rule({ needsBranch: true }),
  reparent_branch: rule({ needsBranch: true, needsBase: true }),
  cleanup_session: rule({ needsRepo: false, needsSession: true }),
  restore_sessions: rule({ needsRepo: false, needsSessions: true }),
  // Resumable: its journal (the plan) says what is left to move, so a restart finishes it.
  land_session: rule({ idempotent: true, needsRepo: false, needsSession: true }),
};

export const isJobFinished = (state: JobStateName) => state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED';

/** What happens to a job found RUNNING at start-up: its run died with the agent. */
export function afterRestart(kind: JobKindName): { state: JobStateName; error: string } {
  return JOB_KINDS[kind].idempotent ? { state: 'QUEUED', error: '' } : { state: 'FAILED', error: 'interrupted by agent restart' };
}

/**
 * The next queued job to start: oldest first, skipping jobs whose repo already has one
 * running (one mutating job per repo), within the global concurrency bound.
 */
export function pickNextJob<T extends { id: string; repoId: string; createdAt: Date }>(
  queued: T[],
  busyRepos: ReadonlySet<string>,
  runningCount: number,
  concurrency: number,
): T | undefined {
  if (runningCount >= concurrency) return undefined;
  return [...queued]
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id))
    .find((job) => !job.repoId || !busyRepos.has(job.repoId));
}

/** Orders a stack of branches so every parent is rebased before its children. */
export function stackOrder(root: string, parents: ReadonlyMap<string, string>): string[] {
  const children = new Map<string, string[]>();
  for (const [branch, parent] of parents) {
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent)!.push(branch);
  }
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (branch: string) => {
    if (seen.has(branch)) return; // a cycle in recorded parents must not loop forever
    seen.add(branch);
    order.push(branch);
    for (const child of (children.get(branch) ?? []).sort()) visit(child);
  };
  visit(root);
  return order;
}
