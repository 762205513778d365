import { rm } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { crashPoint } from '../crash-points.js';
import { isDirty } from '../domain/dirtiness.js';
import { stackOrder } from '../domain/job-kinds.js';
import { abortRebase, createTrackingBranch, fetchPrune, rebaseInProgress, rebaseOnto, remotes, upstreamOf } from '../git/branches.js';
import { probeCheckout } from '../git/checkout-state.js';
import {
  addWorktree,
  branchCommit,
  listWorktrees,
  pruneWorktreeEntry,
  removeWorktree,
  resolveCommit,
  worktreeStatus,
} from '../git/worktrees.js';
import { processesInside } from '../procs/proc-scan.js';
import type { SessionService } from '../sessions/session-service.js';
import { BranchSchema, type JobRow, type RepoRow } from '../store/entities.js';
import type { Store } from '../store/store.js';
import type { SessionLander } from './land-session.js';

/** A job's work failed in a way the user can act on: the job ends FAILED with this message. */
export class JobFailure extends Error {}

/** One job being run: its row, its repo, its cancellation, and how it reports progress. */
export interface JobRun {
  job: JobRow;
  repo: RepoRow | undefined;
  signal: AbortSignal;
  progress(percent: number, message: string): Promise<void>;
  /** Records the job's plan (its journal) durably before the next step, with its progress. */
  savePlan(plan: JobRow['plan'], progress: { percent: number; message: string }): Promise<void>;
}

/**
 * What each kind of job does, given a run; the scheduler (job-service.ts) owns queueing,
 * state and recovery. Each kind answers the message a user reads on success, or throws
 * JobFailure with one they can act on.
 */
export class JobExecutors {
  constructor(
    private readonly store: Store,
    private readonly sessions: SessionService,
    /** Where rebases of branches checked out nowhere get a scratch worktree. */
    private readonly scratch: string,
    private readonly worktreeRoot: string,
    private readonly lander: SessionLander,
  ) {}

  async perform(run: JobRun): Promise<string> {
    switch (run.job.kind) {
      case 'sync_repo':
        return this.syncRepo(run);
      case 'register_branch':
        return this.registerBranch(run);
      case 'rebase_branch':
        return this.rebase(run, run.job.branch, run.job.base || (await this.parentOf(run, run.job.branch)));
      case 'reparent_branch':
        await this.recordParent(run.repo!, run.job.branch, run.job.base);
        return this.rebase(run, run.job.branch, run.job.base);
      case 'restack_branch':
        return this.restack(run);
      case 'cleanup_session':
        await this.sessions.cleanup(run.job.sessionId);
        return `session ${run.job.sessionId} cleaned up`;
      case 'land_session':
        return this.lander.run(run);
      case 'restore_sessions': {
        const { moved } = await this.sessions.restore(run.job.sessionIds, false);
        return `restored ${run.job.sessionIds.length} session(s)${moved.length ? `; moved aside: ${moved.map((m) => m.to).join(', ')}` : ''}`;
      }
    }
  }

  private async syncRepo(run: JobRun): Promise<string> {
    const repo = run.repo!;
    const [remote] = await remotes(repo.path);
    if (!remote) throw new JobFailure(`repo "${repo.name}" has no remote to fetch from`);
    await run.progress(10, `fetching from ${remote}`);
    const output = await fetchPrune(repo.path, remote, run.signal);
    return output ? `fetched from ${remote}: ${output.split('\n').length} update(s)` : `fetched from ${remote}: up to date`;
  }

  /** Attaches an existing branch (creating a local one tracking origin if only that exists). */
  private async registerBranch(run: JobRun): Promise<string> {
    const repo = run.repo!;
    const branch = run.job.branch;
    await run.progress(10, `looking for ${branch}`);
    if (!(await branchCommit(repo.path, branch))) {
      const [remote] = await remotes(repo.path);
      if (remote) {
        await run.progress(30, `fetching ${branch} from ${remote}`);
        await fetchPrune(repo.path, remote, run.signal);
      }
      if (remote && (await resolveCommit(repo.path, `refs/remotes/${remote}/${branch}`))) {
        await createTrackingBranch(repo.path, branch, `${remote}/${branch}`);
      } else {
        throw new JobFailure(`branch "${branch}" exists neither locally nor on a remote of "${repo.name}"`);
      }
    }
    const parent =
      run.job.base || (await this.store.read().findOne(BranchSchema, { repoId: repo.id, name: branch }))?.parent || repo.defaultBranch;
    const upstream = await upstreamOf(repo.path, branch);
    const head = (await branchCommit(repo.path, branch))!;
    await this.store.transact(async ({ em }) => {
      await em.upsert(BranchSchema, { repoId: repo.id, name: branch, parent, upstream, head, registeredAt: new Date() });
    });
    return `registered ${branch} (parent ${parent}${upstream ? `, upstream ${upstream}` : ''})`;
  }

  private async recordParent(repo: RepoRow, branch: string, parent: string): Promise<void> {
    if (!(await branchCommit(repo.path, parent))) throw new JobFailure(`parent branch "${parent}" does not exist`);
    await this.store.transact(async ({ em }) => {
      const existing = await em.findOne(BranchSchema, { repoId: repo.id, name: branch });
      if (existing) existing.parent = parent;
      else em.create(BranchSchema, { repoId: repo.id, name: branch, parent, upstream: '', head: '', registeredAt: new Date() });
    });
  }

  private async parentOf(run: JobRun, branch: string): Promise<string> {
    const row = await this.store.read().findOne(BranchSchema, { repoId: run.repo!.id, name: branch });
    return row?.parent || run.repo!.defaultBranch;
  }

  private async restack(run: JobRun): Promise<string> {
    const repo = run.repo!;
    const rows = await this.store.read().find(BranchSchema, { repoId: repo.id });
    const parents = new Map(rows.map((r) => [r.name, r.parent]));
    const order = stackOrder(run.job.branch, parents);
    const done: string[] = [];
    for (const [index, branch] of order.entries()) {
      await run.progress(Math.round((index / order.length) * 100), `rebasing ${branch} (${index + 1}/${order.length})`);
      await this.rebase(run, branch, parents.get(branch) || repo.defaultBranch);
      done.push(branch);
    }
    return `restacked ${done.join(' -> ')}`;
  }

  /**
   * Rebases `branch` onto `onto` where it is checked out in a Grove worktree, or in a scratch
   * worktree when it is checked out nowhere. A conflict aborts the rebase, leaving the
   * worktree as it was, and fails the job naming the conflicting paths.
   */
  private async rebase(run: JobRun, branch: string, onto: string): Promise<string> {
    const repo = run.repo!;
    if (!(await branchCommit(repo.path, branch))) throw new JobFailure(`branch "${branch}" does not exist in "${repo.name}"`);
    if (!(await resolveCommit(repo.path, onto))) throw new JobFailure(`"${onto}" does not name a commit in "${repo.name}"`);
    const holder = (await listWorktrees(repo.path)).find((w) => w.branch === branch);
    let cwd: string;
    let scratch: string | undefined;
    if (holder) {
      if (!holder.path.startsWith(this.worktreeRoot + sep)) {
        throw new JobFailure(`branch "${branch}" is checked out in your checkout at ${holder.path}; rebase it there`);
      }
      if (isDirty(await worktreeStatus(holder.path))) {
        throw new JobFailure(`the worktree of "${branch}" at ${holder.path} has uncommitted changes; commit or clean them first`);
      }
      // A task (or a person) working there would have its edits dropped by a rebase abort.
      const inside = await processesInside(holder.path);
      if (inside.length > 0) {
        throw new JobFailure(`pid ${inside.map((p) => p.pid).join(', ')} works in ${holder.path}; rebase once it is done`);
      }
      const busy = (await probeCheckout(holder.path, branch)).conditions.find((c) =>
        ['rebasing', 'merging', 'cherry_picking', 'reverting', 'bisecting'].includes(c),
      );
      if (busy)
        throw new JobFailure(`the worktree of "${branch}" at ${holder.path} is in the middle of an operation (${busy}); finish it first`);
      cwd = holder.path;
    } else {
      scratch = join(this.scratch, run.job.id);
      await rm(scratch, { recursive: true, force: true });
      await addWorktree(repo.path, scratch, branch);
      cwd = scratch;
    }
    try {
      await run.progress(50, `rebasing ${branch} onto ${onto}`);
      const result = await rebaseOnto(cwd, onto, run.signal, () => crashPoint('job.rebase_conflict'));
      if (!result.ok) {
        throw new JobFailure(`rebasing ${branch} onto ${onto} stopped on conflicts in: ${result.conflicts.join(', ') || 'unknown paths'}`);
      }
      return `rebased ${branch} onto ${onto}: now at ${result.head.slice(0, 12)}`;
    } finally {
      if (run.signal.aborted && (await rebaseInProgress(cwd).catch(() => false))) await abortRebase(cwd);
      if (scratch) {
        await removeWorktree(repo.path, scratch, true).catch(() => undefined);
        await pruneWorktreeEntry(repo.path, scratch).catch(() => undefined);
      }
    }
  }
}
