import type { TaskActivityName } from '../domain/task-activity.js';
import { SessionActivity, SessionState, WorktreeState, type Session, type SessionWorktree } from '../../../gen/grove/agent/v1/resources.js';
import type { SessionRow, WorktreeRow } from '../store/entities.js';
import { resourceName } from '../domain/event-types.js';

export const sessionResource = (id: string) => resourceName('sessions', id);

const SESSION_STATES: Record<SessionRow['state'], SessionState> = {
  ACTIVE: SessionState.SESSION_STATE_ACTIVE,
  STOPPED: SessionState.SESSION_STATE_STOPPED,
  ARCHIVED: SessionState.SESSION_STATE_ARCHIVED,
  PENDING_BRANCH: SessionState.SESSION_STATE_PENDING_BRANCH,
  SETTING_UP: SessionState.SESSION_STATE_SETTING_UP,
  SETUP_FAILED: SessionState.SESSION_STATE_SETUP_FAILED,
};

const WORKTREE_STATES: Record<WorktreeRow['state'], WorktreeState> = {
  ACTIVE: WorktreeState.WORKTREE_STATE_ACTIVE,
  REMOVED: WorktreeState.WORKTREE_STATE_REMOVED,
  UNAVAILABLE: WorktreeState.WORKTREE_STATE_UNAVAILABLE,
  RETRY_REMOVE: WorktreeState.WORKTREE_STATE_RETRY_REMOVE,
};

export function sessionStateFromProto(state: SessionState): SessionRow['state'] | undefined {
  return (Object.keys(SESSION_STATES) as Array<SessionRow['state']>).find((k) => SESSION_STATES[k] === state);
}

export function toWorktreeProto(row: WorktreeRow): SessionWorktree {
  return {
    repoId: row.repoId,
    repoName: row.repoName,
    path: row.path,
    branch: row.branch,
    state: WORKTREE_STATES[row.state],
    preservedRef: row.preservedRef,
    lastError: row.lastError,
    drift: row.drift,
    removedIgnored: row.removedIgnored,
    removedIgnoredTotal: row.removedIgnoredTotal,
    copied: row.copied.map((c) => c.path),
    teardownError: row.teardownError,
  };
}

const SESSION_ACTIVITIES: Record<TaskActivityName, SessionActivity> = {
  IDLE: SessionActivity.SESSION_ACTIVITY_IDLE,
  WORKING: SessionActivity.SESSION_ACTIVITY_WORKING,
  NEEDS_INPUT: SessionActivity.SESSION_ACTIVITY_NEEDS_INPUT,
};

export function toSessionProto(row: SessionRow, worktrees: WorktreeRow[], activity: TaskActivityName): Session {
  return {
    id: row.id,
    title: row.title,
    branch: row.branch,
    base: row.base,
    state: SESSION_STATES[row.state],
    activity: SESSION_ACTIVITIES[activity],
    worktrees: worktrees.map(toWorktreeProto),
    labels: row.labels,
    createTime: row.createdAt,
    updateTime: row.updatedAt,
    agentId: '',
    lastSeenTime: undefined,
    pendingJobId: row.pendingJobId,
    lastError: row.lastError,
    ports: row.ports,
    landings: row.landings.map((l) => ({
      repoId: l.repoId,
      repoName: l.repoName,
      target: l.target,
      commit: l.commit,
      jobId: l.jobId,
      landTime: new Date(l.at),
    })),
  };
}
