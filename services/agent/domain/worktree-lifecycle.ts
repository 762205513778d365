import type { SessionStateName, WorktreeStateName } from '../store/entities.js';

/** What happens to a worktree row. */
export type WorktreeTransition =
  | 'kill' // clean, removed with `git worktree remove`
  | 'cleanup_clean' // cleanup of a clean row
  | 'cleanup_preserved' // cleanup after preserving dirty state to a ref
  | 'removal_failed' // force-remove failed: retried later
  | 'restore'; // recreated on its branch

const TRANSITIONS: Record<WorktreeTransition, { from: WorktreeStateName[]; to: WorktreeStateName }> = {
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
 * are decided elsewhere and kept.
 */
export function sessionStateFor(current: SessionStateName, rows: WorktreeStateName[]): SessionStateName {
  if (current === 'ARCHIVED' || current === 'PENDING_BRANCH') return current;
  return rows.some((state) => state === 'ACTIVE') ? 'ACTIVE' : 'STOPPED';
}
