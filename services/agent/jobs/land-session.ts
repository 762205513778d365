import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LandStrategy, type LandSessionRequest } from '../../../gen/grove/agent/v1/agent_service.js';
import { WorktreeState, type Session } from '../../../gen/grove/agent/v1/resources.js';
import { failedPrecondition, invalidArgument } from '../../common/errors.js';
import { crashPoint } from '../crash-points.js';
import { branchNameProblem } from '../../common/branch-name.js';
import { isDirty } from '../domain/dirtiness.js';
import { nextLandStep, positionOf } from '../domain/land-plan.js';
import { remotes } from '../git/branches.js';
import { git } from '../git/git.js';
import {
  branchCommit,
  hiddenChanges,
  listWorktrees,
  pruneWorktreeEntry,
  removeWorktree,
  resolveCommit,
  worktreeStatus,
} from '../git/worktrees.js';
import type { RepoService } from '../repos/repo-service.js';
import type { SessionService } from '../sessions/session-service.js';
import type { LandPlan, Landing, RepoRow } from '../store/entities.js';
import { JobFailure, type JobRun } from './job-executors.js';

type PlannedRepo = NonNullable<LandPlan['repos']>[number];

const STRATEGIES: Record<number, LandPlan['strategy'] | undefined> = {
  [LandStrategy.LAND_STRATEGY_UNSPECIFIED]: 'merge',
  [LandStrategy.LAND_STRATEGY_MERGE]: 'merge',
  [LandStrategy.LAND_STRATEGY_SQUASH]: 'squash',
  [LandStrategy.LAND_STRATEGY_REBASE]: 'rebase',
};

export interface SessionLanderDeps {
  sessions: SessionService;
  repos: RepoService;
  isWorking: (sessionId: string) => Promise<boolean>;
  /** Where integrations get scratch worktrees of their own. */
  scratch: string;
}

/**
 * land_session: the session's branch integrated into a target branch in every repo, all or
 * nothing. First each repo is integrated in a scratch worktree (the user's checkout and index
 * are never used for it); a conflict anywhere fails the job before any target moves. Then the
 * plan (old and new commit per target) is recorded, and the targets move with a
 * compare-and-swap each; a checkout with the target checked out is brought along, as git's
 * receive.denyCurrentBranch=updateInstead does. A crash is resumed from the plan (land-plan.ts).
 */
export class SessionLander {
  constructor(private readonly deps: SessionLanderDeps) {}

  /** Checks a request before a job is queued: a clear error for what is wrong, nothing queued. */
  async check(request: LandSessionRequest): Promise<{ session: Session; plan: LandPlan }> {
    const strategy = STRATEGIES[request.strategy];
    if (!strategy) throw invalidArgument('BAD_STRATEGY', `unknown strategy ${request.strategy}; use merge, squash or rebase`);
    const problem = request.into ? branchNameProblem(request.into) : undefined;
    if (problem) throw invalidArgument('BAD_BRANCH_NAME', `--into "${request.into.slice(0, 100)}" ${problem}`);
    const session = await this.deps.sessions.get(request.sessionId);
    if (request.into && request.into === session.branch) {
      throw invalidArgument('BAD_BRANCH', `cannot land session ${session.id} into its own branch "${session.branch}"`);
    }
    for (const worktree of session.worktrees) {
      const repo = await this.deps.repos.find(worktree.repoId);
      const target = request.into || repo.defaultBranch;
      if (!(await branchCommit(repo.path, target))) {
        throw failedPrecondition('TARGET_NOT_FOUND', `repo "${repo.name}" has no branch "${target}" to land into`);
      }
      if (request.push && (await remotes(repo.path)).length === 0) {
        throw failedPrecondition('NO_REMOTE', `--push: repo "${repo.name}" has no remote to push to`);
      }
    }
    await this.checkWorktrees(session);
    return { session, plan: { target: request.into, strategy, push: request.push } };
  }

  async run(run: JobRun): Promise<string> {
    const plan = run.job.plan as LandPlan;
    const session = await this.deps.sessions.get(run.job.sessionId);
    let repos = plan.repos;
    if (!repos) {
      await this.checkWorktrees(session);
      await run.progress(10, 'integrating');
      repos = await this.integrateAll(run, session, plan);
      // One transaction: the plan, and the progress that says the refs move next.
      await run.savePlan({ ...plan, repos }, { percent: 60, message: 'moving the target branches' });
      crashPoint('land.planned');
    }
    await this.moveTargets(session, repos, run.job.id);
    crashPoint('land.moved');
    const landed = repos.filter((r) => r.old !== r.new);
    const at = new Date().toISOString();
    const landings: Landing[] = landed.map((r) => ({
      repoId: r.repoId,
      repoName: r.repoName,
      target: r.target,
      commit: r.new,
      jobId: run.job.id,
      at,
    }));
    if (landings.length > 0) await this.deps.sessions.recordLandings(session.id, landings);
    await Promise.all(repos.map((r) => git(['update-ref', '-d', pinRef(run.job.id, r.repoName)], { cwd: r.repoPath, allowFailure: true })));
    const summary = landed.length
      ? landed.map((r) => `${r.repoName} ${r.target} → ${r.new.slice(0, 12)}`).join(', ')
      : 'nothing to land: every target already has the session';
    if (plan.push && landed.length > 0) {
      await run.progress(90, 'pushing');
      const failures = await this.push(landed);
      if (failures.length) throw new JobFailure(`landed (${summary}), but the push failed: ${failures.join('; ')}`);
      return `landed and pushed: ${summary}`;
    }
    return `landed: ${summary}`;
  }

  /** Refuses while the session has uncommitted work or a running task. */
  private async checkWorktrees(session: Session): Promise<void> {
    const inactive = session.worktrees.find((w) => w.state !== WorktreeState.WORKTREE_STATE_ACTIVE);
    if (inactive) throw failedPrecondition('WORKTREE_NOT_ACTIVE', `the worktree of repo "${inactive.repoName}" is not on disk`);
    if (await this.deps.isWorking(session.id)) {
      throw failedPrecondition('TASK_RUNNING', `a task of session ${session.id} is running; land once it has ended`);
    }
    const dirty: string[] = [];
    for (const worktree of session.worktrees) {
      if (isDirty(await worktreeStatus(worktree.path)) || (await hiddenChanges(worktree.path)).length > 0) dirty.push(worktree.repoName);
    }
    if (dirty.length > 0) {
      throw failedPrecondition(
        'UNCOMMITTED_WORK',
        `session ${session.id} has uncommitted work in ${dirty.join(', ')}: commit it first (grove session commit ${session.id} -m MESSAGE)`,
      );
    }
  }

  /** Integrates every repo; any conflict fails the whole land with the paths, before a ref moves. */
  private async integrateAll(run: JobRun, session: Session, plan: LandPlan): Promise<PlannedRepo[]> {
    const planned: PlannedRepo[] = [];
    const conflicts: string[] = [];
    const refusals: string[] = [];
    for (const worktree of session.worktrees) {
      const repo = await this.deps.repos.find(worktree.repoId);
      const target = plan.target || repo.defaultBranch;
      const old = await branchCommit(repo.path, target);
      if (!old) throw new JobFailure(`repo "${repo.name}" has no branch "${target}" to land into`);
      const head = (await resolveCommit(worktree.path, 'HEAD'))!;
      const integrated = await this.integrate(run, repo, session, plan.strategy, old, head);
      if ('conflicts' in integrated) {
        conflicts.push(`${repo.name}: ${integrated.conflicts.join(', ')}`);
        continue;
      }
      const checkout = (await listWorktrees(repo.path)).find((w) => w.branch === target)?.path ?? '';
      if (checkout && integrated.commit !== old) {
        const blocking = await changesInTouchedPaths(checkout, old, integrated.commit);
        if (blocking.length > 0)
          refusals.push(`${checkout} (${target} of ${repo.name}) has changes in ${blocking.slice(0, 20).join(', ')}`);
      }
      planned.push({ repoId: repo.id, repoName: repo.name, repoPath: repo.path, target, old, new: integrated.commit, checkout });
    }
    if (conflicts.length > 0) throw new JobFailure(`conflicts; no target was moved: ${conflicts.join('; ')}`);
    if (refusals.length > 0) {
      throw new JobFailure(`a checkout of a target branch has work the land would overwrite; nothing was moved: ${refusals.join('; ')}`);
    }
    // Pinned, so the landed commits outlive a gc until their targets hold them.
    for (const r of planned) await git(['update-ref', pinRef(run.job.id, r.repoName), r.new], { cwd: r.repoPath });
    return planned;
  }

  /**
   * One repo: the commit to land, or the conflicting paths. Merge and squash are computed
   * without any worktree (`git merge-tree --write-tree`, then `commit-tree`), so nothing is
   * checked out to integrate; a rebase replays the commits in a scratch worktree of its own.
   */
  private async integrate(
    run: JobRun,
    repo: RepoRow,
    session: Session,
    strategy: LandPlan['strategy'],
    old: string,
    head: string,
  ): Promise<{ commit: string } | { conflicts: string[] }> {
    const cwd = repo.path;
    const isAncestor = async (a: string, b: string) =>
      (await git(['merge-base', '--is-ancestor', a, b], { cwd, allowFailure: true })).code === 0;
    if (await isAncestor(head, old)) return { commit: old }; // the target has it all already
    const message = `Land ${session.branch}${session.title ? `: ${session.title}` : ''}`;
    const commitTree = async (tree: string, parents: string[]) =>
      (await git(['commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-m', message], { cwd })).stdout.trim();
    if (await isAncestor(old, head)) {
      // A fast-forward: merge and rebase land the session's own commits; squash makes one.
      return { commit: strategy === 'squash' ? await commitTree(`${head}^{tree}`, [old]) : head };
    }
    if (strategy === 'rebase') return this.rebase(run, repo, old, head);
    const merged = await git(['merge-tree', '--write-tree', '--name-only', '-z', '--', old, head], { cwd, allowFailure: true });
    const [tree, ...rest] = merged.stdout.split('\0');
    if (merged.code === 1) return { conflicts: [...new Set(rest.slice(0, rest.indexOf('')))] };
    if (merged.code !== 0 || !tree)
      throw new JobFailure(`integrating into ${repo.name} failed: ${merged.stderr.trim().split('\n').slice(-3).join(' ')}`);
    const oldTree = (await git(['rev-parse', `${old}^{tree}`], { cwd })).stdout.trim();
    if (strategy === 'squash' && tree === oldTree) return { commit: old }; // nothing new to squash
    return { commit: await commitTree(tree, strategy === 'merge' ? [old, head] : [old]) };
  }

  /** The session's commits replayed onto `old` in a scratch worktree; conflicts abort it. */
  private async rebase(run: JobRun, repo: RepoRow, old: string, head: string): Promise<{ commit: string } | { conflicts: string[] }> {
    const scratch = join(this.deps.scratch, run.job.id, repo.name);
    // What a crashed run may have left: the directory, then git's record of it.
    await rm(scratch, { recursive: true, force: true });
    await pruneWorktreeEntry(repo.path, scratch);
    await git(['worktree', 'add', '--quiet', '--detach', '--', scratch, head], { cwd: repo.path });
    try {
      const result = await git(['rebase', '--quiet', old], { cwd: scratch, allowFailure: true, env: { GIT_EDITOR: 'true' } });
      if (result.code !== 0) {
        const unmerged = (await git(['diff', '--name-only', '--diff-filter=U', '-z'], { cwd: scratch })).stdout.split('\0').filter(Boolean);
        if (unmerged.length > 0) return { conflicts: unmerged };
        throw new JobFailure(`rebasing onto ${repo.name} failed: ${result.stderr.trim().split('\n').slice(-3).join(' ')}`);
      }
      return { commit: (await resolveCommit(scratch, 'HEAD'))! };
    } finally {
      await git(['rebase', '--abort'], { cwd: scratch, allowFailure: true }).catch(() => undefined);
      await removeWorktree(repo.path, scratch, true).catch(() => undefined);
      await pruneWorktreeEntry(repo.path, scratch).catch(() => undefined);
    }
  }

  /** The commit step: every target moves (CAS), or every one this land moved goes back. */
  private async moveTargets(session: Session, repos: PlannedRepo[], jobId: string): Promise<void> {
    // A target that moved on from the landed commit (a commit on top, after a crash between
    // the last move and the job's end) counts as landed, not as moved by someone else.
    const positionNow = async (r: PlannedRepo) => {
      const current = await branchCommit(r.repoPath, r.target);
      const position = positionOf(current, r);
      if (position !== 'elsewhere' || !current || r.old === r.new) return position;
      const landedBelow = await git(['merge-base', '--is-ancestor', r.new, current], { cwd: r.repoPath, allowFailure: true });
      return landedBelow.code === 0 ? 'new' : position;
    };
    const positions = async () => Promise.all(repos.map(async (r) => ({ ...r, position: await positionNow(r) })));
    const step = nextLandStep(await positions());
    if (step.action === 'undo') {
      await this.undo(repos, jobId);
      throw new JobFailure(step.why);
    }
    const reflog = `grove: land session ${session.id} (${jobId})`;
    for (const r of await positions()) {
      // A crash after the ref moved but before its checkout followed: the checkout is finished first.
      if (r.position === 'new') {
        if (
          r.checkout &&
          r.old !== r.new &&
          !(await bringCheckoutAlong(r).then(
            () => true,
            () => false,
          ))
        ) {
          throw new JobFailure(
            `${r.target} of ${r.repoName} is landed, but ${r.checkout} changed meanwhile and was not brought along: check it (git status)`,
          );
        }
        continue;
      }
      const moved = await git(['update-ref', '-m', reflog, `refs/heads/${r.target}`, r.new, r.old], {
        cwd: r.repoPath,
        allowFailure: true,
      });
      if (moved.code !== 0) {
        await this.undo(repos, jobId);
        throw new JobFailure(`${r.target} in repo ${r.repoName} moved while landing; nothing was landed, land again`);
      }
      crashPoint('land.ref_moved');
      if (r.checkout) {
        const followed = await bringCheckoutAlong(r).then(
          () => true,
          () => false,
        );
        if (!followed) {
          await this.undo(repos, jobId);
          throw new JobFailure(`${r.checkout} changed while landing into ${r.target} of ${r.repoName}; nothing was landed`);
        }
      }
    }
  }

  /**
   * Puts back every target at its landed commit (CAS) and its checkout with it, each repo on
   * its own: one that cannot be put back is named, and the others are still undone.
   */
  private async undo(repos: PlannedRepo[], jobId: string): Promise<void> {
    const stuck: string[] = [];
    for (const r of repos) {
      if (r.old === r.new || (await branchCommit(r.repoPath, r.target)) !== r.new) continue;
      try {
        if (r.checkout) {
          // Brought along: taken back with it. Not yet brought along (at old): the ref alone moves.
          // Changed since: undoing under it would strand the user's files, so it stays landed.
          if (await indexMatches(r.checkout, r.new)) await git(['read-tree', '-u', '-m', r.new, r.old], { cwd: r.checkout });
          else if (!(await indexMatches(r.checkout, r.old))) throw new Error(`${r.checkout} changed since the land began`);
        }
        await git(['update-ref', '-m', `grove: land ${jobId} undone`, `refs/heads/${r.target}`, r.old, r.new], { cwd: r.repoPath });
      } catch (err) {
        stuck.push(`${r.target} of ${r.repoName} (${(err as Error).message})`);
      }
    }
    if (stuck.length > 0) throw new JobFailure(`the land could not be undone everywhere; still landed: ${stuck.join('; ')}`);
  }

  private async push(landed: PlannedRepo[]): Promise<string[]> {
    const failures: string[] = [];
    for (const r of landed) {
      const [remote] = await remotes(r.repoPath);
      if (!remote) {
        failures.push(`repo ${r.repoName} has no remote`);
        continue;
      }
      const pushed = await git(['push', '--quiet', remote, `refs/heads/${r.target}:refs/heads/${r.target}`], {
        cwd: r.repoPath,
        allowFailure: true,
      });
      if (pushed.code !== 0) failures.push(`${r.repoName} to ${remote}: ${pushed.stderr.trim().split('\n').slice(-2).join(' ')}`);
    }
    return failures;
  }
}

const pinRef = (jobId: string, repoName: string) => `refs/grove/landing/${jobId}/${repoName}`;

/** Paths the land changes between `old` and `landed` that the checkout has changes in (staged, unstaged or untracked). */
async function changesInTouchedPaths(checkout: string, old: string, landed: string): Promise<string[]> {
  const touched = new Set(
    (await git(['diff', '--name-only', '--no-renames', '-z', old, landed, '--'], { cwd: checkout })).stdout.split('\0').filter(Boolean),
  );
  const status = await worktreeStatus(checkout);
  const hidden = await hiddenChanges(checkout);
  const changed = [...status.tracked, ...status.staged, ...status.untracked, ...hidden];
  return [...new Set(changed.filter((path) => touched.has(path)))];
}

async function indexMatches(checkout: string, commit: string): Promise<boolean> {
  return (await git(['diff-index', '--cached', '--quiet', commit, '--'], { cwd: checkout, allowFailure: true })).code === 0;
}

/**
 * The checkout's index and files follow its branch from `old` to `new` (two-tree read-tree,
 * which refuses rather than overwrite a local change). Done only while the index still
 * matches `old`: then nothing of the user's is in the way of the touched paths.
 */
async function bringCheckoutAlong(r: PlannedRepo): Promise<void> {
  // Only a checkout that still has the target checked out follows it; one switched to another
  // branch meanwhile must not get the land written into that branch's files.
  const head = await git(['symbolic-ref', '--quiet', 'HEAD'], { cwd: r.checkout, allowFailure: true });
  if (head.stdout.trim() !== `refs/heads/${r.target}`) throw new Error(`${r.checkout} no longer has ${r.target} checked out`);
  if (await indexMatches(r.checkout, r.new)) return;
  await git(['read-tree', '-u', '-m', r.old, r.new], { cwd: r.checkout });
}
