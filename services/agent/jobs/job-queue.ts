import { newId } from '../../common/ids.js';
import type { JobRow } from '../store/entities.js';
import { insertJob, jobByIdempotencyKey } from '../store/job-rows.js';
import type { Store } from '../store/store.js';
import { jobResource, toJobProto } from './job-mapper.js';

export type QueuedJobFields = Pick<JobRow, 'kind' | 'repoId' | 'branch' | 'base' | 'sessionId' | 'sessionIds' | 'idempotencyKey'> &
  Partial<Pick<JobRow, 'plan'>>;

/** A new job's row as it is queued: a fresh id, QUEUED, nothing run yet. */
export function queuedJobRow(fields: QueuedJobFields): JobRow {
  return {
    id: newId('job'),
    plan: {},
    ...fields,
    state: 'QUEUED',
    progressPercent: 0,
    progressMessage: 'queued',
    result: '',
    error: '',
    attempts: 0,
    cancelRequested: false,
    createdAt: new Date(),
    startedAt: null,
    endedAt: null,
  };
}

/** The one thing sessions ask of jobs: fetch and attach a branch that exists only on a remote. */
export interface BranchJobPort {
  /** Queues the register_branch job of a PENDING_BRANCH session and answers its id. */
  queueRegisterBranch(sessionId: string, repoId: string, branch: string): Promise<string>;
}

/**
 * The durable queue of jobs: a job exists once its QUEUED row (and event) is committed. It is
 * built before both sessions and the scheduler, so sessions can queue jobs through a port and
 * the scheduler hears of new work, and neither holds the other.
 */
export class JobQueue implements BranchJobPort {
  private readonly listeners = new Set<() => void>();

  constructor(private readonly store: Store) {}

  /** `listener` runs after each job is queued (the scheduler wakes up). */
  onQueued(listener: () => void): void {
    this.listeners.add(listener);
  }

  /**
   * Queues a job, or answers the one that already holds its idempotency key (looked up in
   * the same transaction, so two submissions racing with one key queue one job).
   */
  async enqueue(fields: QueuedJobFields): Promise<{ job: JobRow; created: boolean }> {
    const queued = await this.store.write(async (tx) => {
      const existing = fields.idempotencyKey ? await jobByIdempotencyKey(tx.sql, fields.idempotencyKey) : undefined;
      if (existing) return { job: existing, created: false };
      const row = queuedJobRow(fields);
      await insertJob(tx.sql, row);
      tx.emit({ type: 'job.queued', resource: jobResource(row.id), payload: { $case: 'job', value: toJobProto(row) } });
      return { job: row, created: true };
    });
    if (queued.created) for (const listener of this.listeners) listener();
    return queued;
  }

  async queueRegisterBranch(sessionId: string, repoId: string, branch: string): Promise<string> {
    const { job } = await this.enqueue({
      kind: 'register_branch',
      repoId,
      branch,
      base: '',
      sessionId,
      sessionIds: [],
      idempotencyKey: null,
    });
    return job.id;
  }
}
