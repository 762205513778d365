import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { LandSessionRequest, SubmitJobRequest } from '../../../gen/grove/agent/v1/agent_service.js';
import { JobKind, JobState, type Job } from '../../../gen/grove/agent/v1/resources.js';
import { checkedEnumFilter } from '../../common/enum-filter.js';
import { GroveError, invalidArgument, notFound } from '../../common/errors.js';
import { isWellFormedId } from '../../common/ids.js';
import type { Logger } from '../../common/logging.js';
import { decodePageToken, pageSize, takePage } from '../../common/paging.js';
import { branchNameProblem } from '../../common/branch-name.js';
import type { JobEventType } from '../domain/event-types.js';
import { afterRestart, isJobFinished, JOB_KINDS, nextJobState, pickNextJob, stackOrder, type JobMove } from '../domain/job-kinds.js';
import { GitError } from '../git/git.js';
import { abortRebase, rebasingBranch } from '../git/branches.js';
import { listWorktrees, pruneWorktreeEntry, removeWorktree } from '../git/worktrees.js';
import type { RepoService } from '../repos/repo-service.js';
import type { SessionService } from '../sessions/session-service.js';
import { BranchSchema, JobSchema, type JobRow } from '../store/entities.js';
import { jobByIdempotencyKey, queuedJobs, readJob, updateJob } from '../store/job-rows.js';
import type { Store } from '../store/store.js';
import { JobExecutors, JobFailure, type JobRun } from './job-executors.js';
import { jobKindFromProto, jobResource, jobStateFromProto, toJobProto } from './job-mapper.js';
import type { JobQueue } from './job-queue.js';
import { SessionLander } from './land-session.js';

// Progress reports of a running job are written at most this often (see progressWriter).
const PROGRESS_WRITE_MS = 250;

export interface JobServiceOptions {
  store: Store;
  repos: RepoService;
  sessions: SessionService;
  /** Where jobs are queued; the scheduler wakes whenever one is. */
  queue: JobQueue;
  dataDir: string;
  worktreeRoot: string;
  log: Logger;
  /** Jobs running at once across all repos (one per repo at most). */
  concurrency?: number | undefined;
  /** Whether a task of the session runs now (landing waits for it to end). */
  isWorking: (sessionId: string) => Promise<boolean>;
}

/**
 * Durable background jobs. Submission validates only cheap local inputs and writes the row:
 * it never runs git. Workers pick queued jobs oldest first, at most one per repo and
 * `concurrency` overall; every change of a job is an event, so clients watch instead of
 * waiting on a response.
 */
export class JobService {
  private readonly running = new Map<string, { repoId: string; abort: AbortController; done: Promise<void> }>();
  private readonly store: Store;
  private readonly repos: RepoService;
  private readonly sessions: SessionService;
  private readonly queue: JobQueue;
  private readonly scratch: string;
  private readonly worktreeRoot: string;
  private readonly executors: JobExecutors;
  private readonly lander: SessionLander;
  private readonly log: Logger;
  private readonly concurrency: number;
  private stopped = false;
  private pumping = false;
  private pumpAgain = false;

  constructor(options: JobServiceOptions) {
    this.store = options.store;
    this.repos = options.repos;
    this.sessions = options.sessions;
    this.scratch = join(options.dataDir, 'job-worktrees');
    this.worktreeRoot = options.worktreeRoot;
    this.lander = new SessionLander({
      sessions: options.sessions,
      repos: options.repos,
      isWorking: options.isWorking,
      scratch: this.scratch,
    });
    this.executors = new JobExecutors(options.store, options.sessions, this.scratch, this.worktreeRoot, this.lander);
    this.log = options.log;
    this.concurrency = options.concurrency ?? 4;
    this.queue = options.queue;
    this.queue.onQueued(() => this.pump());
  }

  // ---- submit ---------------------------------------------------------------------------

  async submit(request: SubmitJobRequest): Promise<Job> {
    const kind = jobKindFromProto(request.kind);
    if (!kind) throw invalidArgument('BAD_JOB_KIND', `unknown job kind ${JobKind[request.kind] ?? request.kind}`);
    if (kind === 'land_session')
      throw invalidArgument('USE_LAND_SESSION', 'land a session with LandSession (grove session land), not SubmitJob');
    const rule = JOB_KINDS[kind];
    if (request.idempotencyKey.length > 200) throw invalidArgument('BAD_KEY', 'idempotency_key is over 200 characters');
    if (request.idempotencyKey) {
      const existing = await jobByIdempotencyKey(this.store.reads, request.idempotencyKey);
      if (existing) return toJobProto(existing);
    }
    let repoId = '';
    if (rule.needsRepo) {
      if (!request.repoId) throw invalidArgument('REPO_REQUIRED', `a ${kind} job needs a repo`);
      repoId = (await this.repos.find(request.repoId)).id;
    }
    for (const [field, needed, missing, bad] of [
      ['branch', rule.needsBranch, 'BRANCH_REQUIRED', 'BAD_BRANCH'],
      ['base', rule.needsBase, 'BASE_REQUIRED', 'BAD_BASE'],
    ] as const) {
      const value = request[field];
      if (needed && !value) throw invalidArgument(missing, `a ${kind} job needs a ${field}`);
      const problem = value ? branchNameProblem(value) : undefined;
      if (problem) throw invalidArgument(bad, `${field} "${value}" ${problem}`);
    }
    if (rule.needsSession) await this.sessions.get(request.sessionId);
    if (rule.needsSessions) {
      if (request.sessionIds.length === 0) throw invalidArgument('SESSIONS_REQUIRED', 'name the sessions to restore');
      for (const id of request.sessionIds) await this.sessions.get(id);
    }
    const { job, created } = await this.queue.enqueue({
      kind,
      repoId,
      branch: request.branch,
      base: request.base,
      sessionId: rule.needsSession ? request.sessionId : '',
      sessionIds: rule.needsSessions ? request.sessionIds : [],
      idempotencyKey: request.idempotencyKey || null,
    });
    if (created) this.log.info({ job: job.id, kind, repo: repoId }, 'job queued');
    return toJobProto(job);
  }

  /** Queues a land_session job once its request checks out (lands all repos or none). */
  async land(request: LandSessionRequest): Promise<Job> {
    if (request.idempotencyKey.length > 200) throw invalidArgument('BAD_KEY', 'idempotency_key is over 200 characters');
    if (request.idempotencyKey) {
      const existing = await jobByIdempotencyKey(this.store.reads, request.idempotencyKey);
      if (existing) return toJobProto(existing);
    }
    const { session, plan } = await this.lander.check(request);
    const { job, created } = await this.queue.enqueue({
      kind: 'land_session',
      repoId: '',
      branch: plan.target,
      base: plan.strategy,
      sessionId: session.id,
      sessionIds: [],
      idempotencyKey: request.idempotencyKey || null,
      plan,
    });
    if (created)
      this.log.info(
        { job: job.id, session: session.id, into: plan.target || '(default branches)', strategy: plan.strategy },
        'land queued',
      );
    return toJobProto(job);
  }

  // ---- read / cancel --------------------------------------------------------------------

  async get(id: string): Promise<Job> {
    return toJobProto(await this.find(id));
  }

  private async find(id: string): Promise<JobRow> {
    if (!id) throw invalidArgument('JOB_REQUIRED', 'a job id is required');
    if (!isWellFormedId('job', id)) throw invalidArgument('BAD_JOB_ID', `"${id.slice(0, 64)}" is not a job id`);
    const row = await this.store.read().findOne(JobSchema, { id });
    if (!row) throw notFound('JOB_NOT_FOUND', `no job "${id}" on this agent`);
    return row;
  }

  async list(request: { pageSize: number; pageToken: string; state: number; kind: number; repoId: string }) {
    const size = pageSize(request.pageSize);
    const after = decodePageToken(request.pageToken);
    const state = checkedEnumFilter(JobState, request.state, 'state') ? jobStateFromProto(request.state) : undefined;
    const kind = checkedEnumFilter(JobKind, request.kind, 'kind') ? jobKindFromProto(request.kind) : undefined;
    const repoId = request.repoId ? (await this.repos.find(request.repoId)).id : undefined;
    return this.store.readConsistent(async (em) => {
      const rows = await em.find(
        JobSchema,
        { ...(state ? { state } : {}), ...(kind ? { kind } : {}), ...(repoId ? { repoId } : {}), ...(after ? { id: { $gt: after } } : {}) },
        { orderBy: { id: 'asc' }, limit: size + 1 },
      );
      const { page, nextPageToken } = takePage(rows, size, (j) => j.id);
      return { jobs: page.map(toJobProto), nextPageToken };
    });
  }

  /** QUEUED: CANCELLED at once. RUNNING: its git is aborted, the repo made consistent, then CANCELLED. */
  async cancel(id: string): Promise<Job> {
    const job = await this.find(id);
    if (job.state === 'QUEUED') {
      await this.update(
        job.id,
        { cancelRequested: true, endedAt: new Date(), progressMessage: 'cancelled before it started' },
        'job.ended',
        'cancel',
        (row) => row.state === 'QUEUED',
      );
    } else if (job.state === 'RUNNING') {
      await this.update(job.id, { cancelRequested: true }, 'job.cancelling');
      this.running.get(job.id)?.abort.abort();
    }
    return this.get(id);
  }

  // ---- workers --------------------------------------------------------------------------

  /** Starts queued jobs while concurrency and per-repo exclusivity allow. */
  private pump(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void (async () => {
      do {
        this.pumpAgain = false;
        // A job's end pumps again, so with every slot taken there is nothing to look for.
        if (this.running.size >= this.concurrency) continue;
        // Plain rows, not entities: hydrating a long queue on every submission was quadratic.
        const queued = await queuedJobs(this.store.reads, 500);
        const busy = new Set([...this.running.values()].map((r) => r.repoId).filter(Boolean));
        for (;;) {
          const next = pickNextJob(queued, busy, this.running.size, this.concurrency);
          if (!next || this.stopped) break;
          queued.splice(queued.indexOf(next), 1);
          if (next.repoId) busy.add(next.repoId);
          await this.launch(next);
        }
      } while (this.pumpAgain && !this.stopped);
    })()
      .catch((err: unknown) => this.log.error({ err }, 'job scheduling failed'))
      .finally(() => (this.pumping = false));
  }

  private async launch(queued: Pick<JobRow, 'id' | 'repoId'>): Promise<void> {
    const abort = new AbortController();
    const started = await this.change(queued.id, 'job.started', (row) => ({
      move: 'start',
      changes: { startedAt: new Date(), attempts: row.attempts + 1, progressPercent: 0, progressMessage: 'started' },
    }));
    if (!started) return;
    const done = this.execute(started, abort.signal)
      .catch((err: unknown) => this.log.error({ err, job: queued.id }, 'job execution failed'))
      .finally(() => {
        this.running.delete(queued.id);
        this.pump();
      });
    this.running.set(queued.id, { repoId: queued.repoId, abort, done });
  }

  private async execute(job: JobRow, signal: AbortSignal): Promise<void> {
    const progress = this.progressWriter(job.id);
    const run: JobRun = {
      job,
      repo: job.repoId ? await this.repos.find(job.repoId).catch(() => undefined) : undefined,
      signal,
      progress: async (percent, message) => progress.report(percent, message),
      savePlan: async (plan, progress) => {
        job.plan = plan;
        await this.update(job.id, { plan, progressPercent: progress.percent, progressMessage: progress.message }, 'job.progress');
      },
    };
    let outcome: { result: string } | { error: string };
    try {
      if (JOB_KINDS[job.kind].needsRepo && !run.repo) throw new JobFailure('the repo was removed');
      outcome = { result: await this.executors.perform(run).finally(() => progress.stop()) };
    } catch (err) {
      const expected = err instanceof JobFailure || err instanceof GroveError || err instanceof GitError;
      if (!expected && !this.stopped && !signal.aborted) this.log.error({ err, job: job.id }, 'job failed unexpectedly');
      outcome = { error: expected ? (err as Error).message : `unexpected error: ${(err as Error)?.message ?? err}` };
    }
    // Shutting down: the row stays RUNNING and start-up recovery decides (retry or fail).
    if (this.stopped) return;
    const final = (await this.finish(job.id, outcome)) ?? (await this.find(job.id));
    this.log.info({ job: job.id, kind: job.kind, state: final.state, error: final.error || undefined }, 'job ended');
    if (final.kind === 'register_branch' && final.sessionId) await this.notifySession(final);
  }

  /**
   * Records a job's end in one transaction with the read it depends on: CANCELLED when a
   * cancel was asked for while it ran (whatever its work did), else its outcome.
   */
  private finish(id: string, outcome: { result: string } | { error: string }): Promise<JobRow | undefined> {
    const endedAt = new Date();
    return this.change(id, 'job.ended', (row) =>
      row.cancelRequested
        ? { move: 'cancel', changes: { endedAt, progressMessage: 'cancelled' } }
        : 'result' in outcome
          ? { move: 'succeed', changes: { endedAt, progressPercent: 100, progressMessage: 'done', result: outcome.result } }
          : { move: 'fail', changes: { endedAt, error: outcome.error, progressMessage: 'failed' } },
    );
  }

  /**
   * A running job's progress reports, written behind: progress is for people watching and
   * protects no work, so it costs no transaction of its own per report. A report waits
   * PROGRESS_WRITE_MS, and what is newest then is written (at most one write per interval);
   * one still waiting when the job ends is dropped, since the end's own write says more (100%, done or
   * failed). A short job (a fetch of a near repo) then commits only its start and its end.
   */
  private progressWriter(id: string): { report(percent: number, message: string): void; stop(): Promise<void> } {
    let pending: { percent: number; message: string } | undefined;
    let timer: NodeJS.Timeout | undefined;
    let writing: Promise<unknown> = Promise.resolve();
    let stopped = false;
    const write = () => {
      timer = undefined;
      if (!pending || stopped) return;
      const { percent, message } = pending;
      pending = undefined;
      writing = writing
        .then(() => this.update(id, { progressPercent: percent, progressMessage: message }, 'job.progress'))
        .catch((err: unknown) => this.log.warn({ err, job: id }, 'could not record job progress'));
    };
    return {
      report(percent, message) {
        pending = { percent, message };
        if (!timer && !stopped) timer = setTimeout(write, PROGRESS_WRITE_MS);
      },
      async stop() {
        stopped = true;
        clearTimeout(timer);
        await writing;
      },
    };
  }

  /** Submits the register_branch job a PENDING_BRANCH session waits for. */
  private async notifySession(job: JobRow): Promise<void> {
    const siblings = await this.store.read().find(JobSchema, { sessionId: job.sessionId, kind: 'register_branch' });
    const failed = siblings.find((j) => j.state === 'FAILED' || j.state === 'CANCELLED');
    await this.sessions
      .branchJobEnded(job.sessionId, {
        ok: !failed,
        error: failed ? failed.error || 'cancelled' : '',
        stillPending: siblings.some((j) => !isJobFinished(j.state)),
      })
      .catch((err: unknown) => this.log.error({ err, session: job.sessionId }, 'activating a pending session failed'));
  }

  // ---- recovery -------------------------------------------------------------------------

  /**
   * Jobs found RUNNING at start-up died with the agent: idempotent kinds go back to the
   * queue, others fail with "interrupted by agent restart" once their repo is consistent
   * again (a rebase left in progress is aborted, scratch worktrees removed).
   */
  async recover(): Promise<{ jobsRetried: number; jobsFailed: number }> {
    let jobsRetried = 0;
    let jobsFailed = 0;
    for (const job of await this.store.read().find(JobSchema, { state: 'RUNNING' })) {
      const next = afterRestart(job.kind);
      if (next.state === 'QUEUED') {
        await this.update(job.id, { progressMessage: 'requeued after agent restart' }, 'job.requeued', 'requeue');
        jobsRetried++;
        continue;
      }
      await this.makeConsistent(job).catch((err: unknown) => this.log.error({ err, job: job.id }, 'could not make the repo consistent'));
      await this.update(job.id, { error: next.error, endedAt: new Date(), progressMessage: 'failed' }, 'job.ended', 'fail');
      jobsFailed++;
    }
    await this.resumePendingSessions();
    this.pump();
    return { jobsRetried, jobsFailed };
  }

  /**
   * A PENDING_BRANCH session must not wait forever because the agent stopped between its
   * steps: one whose register jobs all ended is settled now, one that never got its jobs
   * (a crash right after it was recorded) gets them.
   */
  private async resumePendingSessions(): Promise<void> {
    for (const session of await this.sessions.pendingBranchSessions()) {
      const jobs = await this.store.read().find(JobSchema, { sessionId: session.id, kind: 'register_branch' });
      if (jobs.length === 0) {
        for (const repoId of session.repoIds) await this.queue.queueRegisterBranch(session.id, repoId, session.branch);
      } else if (jobs.every((j) => isJobFinished(j.state))) {
        await this.notifySession(jobs[0]!);
      }
    }
  }

  private async makeConsistent(job: JobRow): Promise<void> {
    const repo = job.repoId ? await this.repos.find(job.repoId).catch(() => undefined) : undefined;
    if (!repo) return;
    // Only rebases of the branches this job was rebasing: anyone else's stay as they are.
    const parents = new Map((await this.store.read().find(BranchSchema, { repoId: repo.id })).map((r) => [r.name, r.parent]));
    const branches = new Set(job.kind === 'restack_branch' ? stackOrder(job.branch, parents) : [job.branch]);
    for (const entry of await listWorktrees(repo.path)) {
      if (entry.prunable || !existsSync(entry.path)) continue;
      const ours = entry.path.startsWith(this.worktreeRoot + sep) || entry.path.startsWith(this.scratch + sep);
      const rebasing = ours ? await rebasingBranch(entry.path) : undefined;
      if (rebasing && branches.has(rebasing)) {
        await abortRebase(entry.path);
        this.log.warn({ job: job.id, worktree: entry.path }, 'aborted a rebase left by an interrupted job');
      }
    }
    const scratch = join(this.scratch, job.id);
    if (existsSync(scratch)) await removeWorktree(repo.path, scratch, true).catch(() => rm(scratch, { recursive: true, force: true }));
    await pruneWorktreeEntry(repo.path, scratch);
  }

  /**
   * Graceful shutdown: aborts running jobs' git processes without recording an outcome, so
   * the rows stay RUNNING and the next start treats them like any interrupted job.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    const running = [...this.running.values()];
    for (const { abort } of running) abort.abort();
    await Promise.allSettled(running.map((r) => r.done));
  }

  // ---- persistence ----------------------------------------------------------------------

  /**
   * Applies changes with a job event, and the lifecycle `move` when one is given (refused
   * by the domain when not allowed from the fresh row's state: then nothing changes and the
   * answer is undefined). Without a move, a finished job is left as it is.
   */
  private update(
    id: string,
    changes: JobChanges,
    type: JobEventType,
    move?: JobMove,
    guard?: (row: JobRow) => boolean,
  ): Promise<JobRow | undefined> {
    return this.change(id, type, (row) => (guard && !guard(row) ? undefined : { changes, move }));
  }

  /** Like update, the changes and move decided from the row as read in the transaction. */
  private async change(
    id: string,
    type: JobEventType,
    decide: (row: JobRow) => { changes: JobChanges; move?: JobMove | undefined } | undefined,
  ): Promise<JobRow | undefined> {
    return this.store.write(async (tx) => {
      const row = await readJob(tx.sql, id);
      if (!row) throw new Error(`job ${id} is gone`);
      const decision = decide(row);
      if (!decision) return undefined;
      const state = decision.move ? nextJobState(row.state, decision.move) : row.state;
      if (!state) return undefined;
      if (isJobFinished(row.state) && !decision.move) return row;
      Object.assign(row, decision.changes, { state });
      await updateJob(tx.sql, id, { ...decision.changes, state });
      tx.emit({ type, resource: jobResource(id), payload: { $case: 'job', value: toJobProto(row) } });
      return row;
    });
  }
}

type JobChanges = Partial<Omit<JobRow, 'state'>>;
