/** Sync states; OFF is also "no sync row". */
export type SyncStateName = 'OFF' | 'SYNCING' | 'PAUSED';

/** One fact about the user's checkout that matters to sync. */
export type CheckoutCondition =
  | 'clean'
  | 'dirty'
  | 'untracked_only'
  | 'rebasing'
  | 'merging'
  | 'cherry_picking'
  | 'reverting'
  | 'bisecting'
  | 'detached'
  | 'other_branch'
  | 'diverged';

export const ALL_CONDITIONS: readonly CheckoutCondition[] = [
  'clean',
  'dirty',
  'untracked_only',
  'rebasing',
  'merging',
  'cherry_picking',
  'reverting',
  'bisecting',
  'detached',
  'other_branch',
  'diverged',
];

export const ALL_SYNC_STATES: readonly SyncStateName[] = ['OFF', 'SYNCING', 'PAUSED'];

const MID_OPERATION: readonly CheckoutCondition[] = ['rebasing', 'merging', 'cherry_picking', 'reverting', 'bisecting'];

/**
 * Whether sync may move from `from` to `to` while the checkout is in `condition`.
 * - Stopping (→ OFF) is always safe: stop never rewrites the user's tree.
 * - Pausing (SYNCING → PAUSED) touches nothing, so it is always safe.
 * - Starting (OFF → SYNCING) switches the checkout's branch: not in the middle of a git
 *   operation; a dirty tree is safe because it is stashed first. `diverged` cannot apply to
 *   a checkout that is not syncing, so it does not block a start.
 * - Syncing (SYNCING → SYNCING, a fast-forward) and resuming (PAUSED → SYNCING) need the
 *   checkout on its sync branch, no operation in progress and histories that have not
 *   diverged; local changes are fine (a fast-forward that would overwrite them is refused
 *   by git and pauses sync instead).
 * - Everything else (OFF → PAUSED, PAUSED → PAUSED, OFF → OFF) is not a transition.
 */
export function isTransitionSafe(from: SyncStateName, to: SyncStateName, condition: CheckoutCondition): boolean {
  if (to === 'OFF') return from !== 'OFF';
  if (from === 'SYNCING' && to === 'PAUSED') return true;
  if (from === 'OFF' && to === 'SYNCING') return !MID_OPERATION.includes(condition);
  if (to === 'SYNCING' && (from === 'SYNCING' || from === 'PAUSED')) {
    return condition === 'clean' || condition === 'dirty' || condition === 'untracked_only';
  }
  return false;
}

/** Words a user can act on, for each condition that pauses sync. */
export function causeFor(
  condition: CheckoutCondition,
  context: { checkout: string; syncBranch: string; branch: string; sessionBranch: string },
): string | undefined {
  switch (condition) {
    case 'rebasing':
      return `a rebase is in progress in ${context.checkout}: finish it (git rebase --continue) or abort it (git rebase --abort)`;
    case 'merging':
      return `a merge is in progress in ${context.checkout}: commit it or abort it (git merge --abort)`;
    case 'cherry_picking':
      return `a cherry-pick is in progress in ${context.checkout}: finish it (git cherry-pick --continue) or abort it (git cherry-pick --abort)`;
    case 'reverting':
      return `a revert is in progress in ${context.checkout}: finish it (git revert --continue) or abort it (git revert --abort)`;
    case 'bisecting':
      return `a bisect is in progress in ${context.checkout}: end it with git bisect reset`;
    case 'detached':
      return `HEAD is detached in ${context.checkout}: check out ${context.syncBranch} again to resume`;
    case 'other_branch':
      return `${context.checkout} is on branch ${context.branch}, not ${context.syncBranch}: check out ${context.syncBranch} again to resume`;
    case 'diverged':
      return `${context.syncBranch} and ${context.sessionBranch} have diverged: rebase or merge one onto the other so one contains the other`;
    default:
      return undefined;
  }
}
