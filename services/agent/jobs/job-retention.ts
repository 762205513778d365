import { JobSchema } from '../store/entities.js';
import type { Store } from '../store/store.js';
import { jobResource, toJobProto } from './job-mapper.js';

export interface JobRetention {
  /** Finished jobs kept, newest first (`--job-retention`). */
  keep: number;
  /** Finished jobs that ended longer ago than this are dropped (`--job-max-age`). */
  maxAgeMs: number;
}

export const DEFAULT_JOB_RETENTION: JobRetention = { keep: 1000, maxAgeMs: 30 * 24 * 3600_000 };

const FINISHED = ['SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
const BATCH = 500;

/**
 * Drops finished jobs beyond the newest `keep` and those older than `maxAgeMs`, with a
 * job.deleted event each so projections drop them too. Queued and running jobs are never
 * touched, however old. Answers how many went.
 */
export async function dropOldJobs(store: Store, retention: JobRetention): Promise<number> {
  const em = store.read();
  const finished = { state: { $in: [...FINISHED] } };
  const beyond = await em.find(JobSchema, finished, { orderBy: { endedAt: 'desc', id: 'desc' }, offset: retention.keep, limit: BATCH });
  const old = await em.find(JobSchema, { ...finished, endedAt: { $lt: new Date(Date.now() - retention.maxAgeMs) } }, { limit: BATCH });
  const doomed = [...new Map([...beyond, ...old].map((job) => [job.id, job])).values()];
  if (doomed.length === 0) return 0;
  await store.transact(async (tx) => {
    await tx.em.nativeDelete(JobSchema, { id: { $in: doomed.map((j) => j.id) }, state: { $in: [...FINISHED] } });
    for (const job of doomed) {
      tx.emit({ type: 'job.deleted', resource: jobResource(job.id), deleted: true, payload: { $case: 'job', value: toJobProto(job) } });
    }
  });
  return doomed.length;
}
