export type SessionStateName = 'ACTIVE' | 'STOPPED' | 'ARCHIVED' | 'PENDING_BRANCH' | 'SETTING_UP' | 'SETUP_FAILED';
export type WorktreeStateName = 'ACTIVE' | 'REMOVED' | 'UNAVAILABLE' | 'RETRY_REMOVE';

/** What happens to a worktree row. */
export type WorktreeTransition =
  | 'removal_started' // the decision to remove is taken (work preserved or none): recorded before any file goes
  | 'removal_refused' // git refused a kill's clean removal (something changed since the check): it stays
  | 'removal_finished' // a begun removal of a worktree that held no work is done
  | 'kill' // clean, removed with `git worktree remove`
  | 'cleanup_clean' // cleanup of a clean row
  | 'cleanup_preserved' // cleanup after preserving dirty state to a ref
  | 'removal_failed' // force-remove failed: retried later
  | 'restore'; // recreated on its branch

/**
 * RETRY_REMOVE means "removal has begun and will be finished": it is recorded before the
 * first file is deleted, so a crash half-way through comes back as a removal to finish (by
 * recovery), never as an ACTIVE worktree whose remains would be taken for the user's work.
 */
const TRANSITIONS: Record<WorktreeTransition, { from: WorktreeStateName[]; to: WorktreeStateName }> = {
  removal_started: { from: ['ACTIVE'], to: 'RETRY_REMOVE' },
  removal_refused: { from: ['RETRY_REMOVE'], to: 'ACTIVE' },
  removal_finished: { from: ['RETRY_REMOVE'], to: 'REMOVED' },
  kill: { from: ['ACTIVE'], to: 'REMOVED' },
  cleanup_clean: { from: ['ACTIVE', 'RETRY_REMOVE'], to: 'REMOVED' },
  cleanup_preserved: { from: ['ACTIVE', 'RETRY_REMOVE'], to: 'UNAVAILABLE' },
  removal_failed: { from: ['ACTIVE', 'RETRY_REMOVE'], to: 'RETRY_REMOVE' },
  restore: { from: ['REMOVED', 'UNAVAILABLE'], to: 'ACTIVE' },
};

/** The row's next state, or undefined when the transition is not allowed from `from`. */
export function nextWorktreeState(from: WorktreeStateName, transition: WorktreeTransition): WorktreeStateName | undefined {
  const rule = TRANSITIONS[transition];
  return rule.from.includes(from) ? rule.to : undefined;
}

/**
 * A session's state follows its rows: ACTIVE while any worktree exists on disk (ACTIVE),
 * STOPPED once none does. RETRY_REMOVE rows no longer hold the user's work in a usable
 * place (cleanup was asked for), so they count as stopped. ARCHIVED and PENDING_BRANCH
 * are decided elsewhere and kept; SETTING_UP and SETUP_FAILED hold while a worktree exists
 * (setupStateFor decides between them and ACTIVE), and end in STOPPED like ACTIVE.
 */
export function sessionStateFor(current: SessionStateName, rows: WorktreeStateName[]): SessionStateName {
  if (current === 'ARCHIVED' || current === 'PENDING_BRANCH') return current;
  const onDisk = rows.some((state) => state === 'ACTIVE');
  if (current === 'SETTING_UP' || current === 'SETUP_FAILED') return onDisk ? current : 'STOPPED';
  return onDisk ? 'ACTIVE' : 'STOPPED';
}

export type SetupTaskState = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'INTERRUPTED';

/**
 * A SETTING_UP session's state from its setup tasks: ACTIVE once every one succeeded,
 * SETUP_FAILED as soon as one ended any other way (failed, cancelled, or interrupted by a
 * crash: a half-run setup is not a set-up worktree), SETTING_UP while any is still to run.
 */
export function setupStateFor(tasks: SetupTaskState[]): 'SETTING_UP' | 'ACTIVE' | 'SETUP_FAILED' {
  if (tasks.some((state) => state === 'FAILED' || state === 'CANCELLED' || state === 'INTERRUPTED')) return 'SETUP_FAILED';
  return tasks.every((state) => state === 'SUCCEEDED') ? 'ACTIVE' : 'SETTING_UP';
}
