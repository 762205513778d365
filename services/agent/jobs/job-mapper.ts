import { JobKind, JobState, type Job } from '../../../gen/grove/agent/v1/resources.js';
import type { JobKindName, JobRow, JobStateName } from '../store/entities.js';
import { resourceName } from '../domain/event-types.js';

export const jobResource = (id: string) => resourceName('jobs', id);

const KINDS: Record<JobKindName, JobKind> = {
  sync_repo: JobKind.JOB_KIND_SYNC_REPO,
  register_branch: JobKind.JOB_KIND_REGISTER_BRANCH,
  rebase_branch: JobKind.JOB_KIND_REBASE_BRANCH,
  restack_branch: JobKind.JOB_KIND_RESTACK_BRANCH,
  reparent_branch: JobKind.JOB_KIND_REPARENT_BRANCH,
  cleanup_session: JobKind.JOB_KIND_CLEANUP_SESSION,
  restore_sessions: JobKind.JOB_KIND_RESTORE_SESSIONS,
  land_session: JobKind.JOB_KIND_LAND_SESSION,
};

const STATES: Record<JobStateName, JobState> = {
  QUEUED: JobState.JOB_STATE_QUEUED,
  RUNNING: JobState.JOB_STATE_RUNNING,
  SUCCEEDED: JobState.JOB_STATE_SUCCEEDED,
  FAILED: JobState.JOB_STATE_FAILED,
  CANCELLED: JobState.JOB_STATE_CANCELLED,
};

export const jobKindFromProto = (kind: JobKind) => (Object.keys(KINDS) as JobKindName[]).find((k) => KINDS[k] === kind);
export const jobStateFromProto = (state: JobState) => (Object.keys(STATES) as JobStateName[]).find((k) => STATES[k] === state);

export function toJobProto(row: JobRow): Job {
  return {
    id: row.id,
    kind: KINDS[row.kind],
    state: STATES[row.state],
    repoId: row.repoId,
    branch: row.branch,
    base: row.base,
    sessionId: row.sessionId,
    idempotencyKey: row.idempotencyKey ?? '',
    progressPercent: row.progressPercent,
    progressMessage: row.progressMessage,
    result: row.result,
    error: row.error,
    attempts: row.attempts,
    createTime: row.createdAt,
    startTime: row.startedAt ?? undefined,
    endTime: row.endedAt ?? undefined,
    agentId: '',
  };
}
