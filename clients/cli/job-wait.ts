import { delay } from 'abort-controller-x';
import type { Job } from '@grove/sdk/proto/agent/v1/resources.js';
import { JobState } from '@grove/sdk/proto/agent/v1/resources.js';
import { backoffDelay, GroveClientError, Status, type AgentCaller } from '@grove/sdk';

const FINISHED: ReadonlySet<JobState> = new Set([JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED]);

export const isJobFinished = (job: Job) => FINISHED.has(job.state);

// Losing the agent or the coordinator for a while, or falling behind a watch (compacted,
// slow subscriber): none changes the job, so read it again and watch on.
const RETRYABLE: ReadonlySet<Status> = new Set([
  Status.UNAVAILABLE,
  Status.INTERNAL,
  Status.CANCELLED,
  Status.OUT_OF_RANGE,
  Status.RESOURCE_EXHAUSTED,
]);

export interface WaitForJobOptions {
  signal: AbortSignal;
  /** Told the job's state first, then every change of it. */
  onJob(job: Job): void;
  /** Told when the wait lost its connection and will look again. */
  notice(text: string): void;
}

/** The revision to watch from, read before the job so no change after the read is missed. */
async function currentRevision(caller: AgentCaller): Promise<number> {
  if (caller.kind === 'direct') return (await caller.agent.getAgentInfo({})).revision;
  return (await caller.coordinator.listJobs({ pageSize: 1 })).revision;
}

/** Versions of job `id` from the agent's event log (or the coordinator's projection of it). */
async function* jobChanges(caller: AgentCaller, id: string, after: number, signal: AbortSignal): AsyncGenerator<Job> {
  if (caller.kind === 'direct') {
    for await (const event of caller.agent.watch({ afterRevision: after, signal })) {
      if (event.payload?.$case === 'job' && event.payload.value.id === id) yield event.payload.value;
    }
    return;
  }
  for await (const change of caller.coordinator.watch({ fromRevision: after, kinds: ['job'] }, { signal })) {
    const event = change.change?.$case === 'event' ? change.change.value : undefined;
    if (event?.payload?.$case === 'job' && event.payload.value.id === id) yield event.payload.value;
  }
}

/**
 * Waits for a job to end by watching events (no polling): one GetJob for where it is now,
 * then every change of it. A dropped or compacted watch starts over from a fresh read.
 */
export async function waitForJob(caller: AgentCaller, id: string, options: WaitForJobOptions): Promise<Job> {
  const { signal, onJob, notice } = options;
  let attempt = 0;
  for (;;) {
    try {
      const after = await currentRevision(caller);
      const job = (await caller.call('getJob', { id }, {}, { signal })).response;
      onJob(job);
      if (isJobFinished(job)) return job;
      attempt = 0;
      for await (const changed of jobChanges(caller, id, after, signal)) {
        onJob(changed);
        if (isJobFinished(changed)) return changed;
      }
      // The stream ended without the job ending (the server is stopping): look again soon.
      await delay(signal, backoffDelay(attempt++));
    } catch (err) {
      if (signal.aborted || !(err instanceof GroveClientError && RETRYABLE.has(err.code))) throw err;
      const delayMs = backoffDelay(attempt++);
      notice(`grove: watching job ${id} interrupted (${err.message}); looking again in ${Math.round(delayMs)}ms\n`);
      await delay(signal, delayMs);
    }
  }
}
