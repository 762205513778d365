import { existsSync, readdirSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { KillSessionResponse, RepoRefusal } from '../../../gen/grove/agent/v1/agent_service.js';
import type { Session } from '../../../gen/grove/agent/v1/resources.js';
import { failedPrecondition } from '../../common/errors.js';
import { crashPoint, crashPointReached } from '../crash-points.js';
import { decideTeardown, type TeardownAction, type TeardownMode } from '../domain/worktree-teardown.js';
import { listWorktrees, preserveWorktree, pruneWorktreeEntry, removeWorktree } from '../git/worktrees.js';
import { WorktreeSchema, type RepoRow, type WorktreeRow } from '../store/entities.js';
import { portEnvironment } from '../domain/port-blocks.js';
import { gatherTeardownFacts } from './teardown-facts.js';
import { removeUnchangedCopies, runTeardown } from './worktree-setup.js';
import { gitFailure, preservedRefFor, type WorktreeRows } from './worktree-rows.js';

const MAX_BACKOFF_MS = 5 * 60_000;
const MAX_IGNORED_LISTED = 100;

/**
 * Kill and cleanup: facts are gathered once per worktree, the pure policy
 * (`domain/worktree-teardown.ts`) decides, and this carries the decision out. Each step's
 * result is committed right after the step made it true: preservation is on the row before
 * removal begins, and "removal begun" is on the row before the first file goes, so a crash
 * anywhere leaves rows that tell the truth and a removal that recovery finishes.
 */
export class SessionTeardown {
  constructor(
    private readonly rows: WorktreeRows,
    private readonly root: string,
    /** A session waiting for its branch stops waiting once torn down. */
    private readonly abandonPending: (sessionId: string) => Promise<void>,
  ) {}

  /**
   * Removes the session's clean worktrees, or nothing: every row is checked before any is
   * removed, so a refusal never leaves a partial teardown.
   */
  async kill(id: string): Promise<KillSessionResponse> {
    this.rows.checkId(id);
    return this.rows.withSession(id, async () => {
      const active = (r: WorktreeRow) => r.state === 'ACTIVE';
      let decision = await this.decide(await this.targets(id, active), 'kill');
      // Teardown commands run once removal is decided, and may leave work behind: decided again.
      if (decision.kind === 'proceed' && (await this.runTeardowns(id, decision.work))) {
        decision = await this.decide(await this.targets(id, active), 'kill');
      }
      if (decision.kind === 'refused') {
        this.rows.log.info({ session: id, refusals: decision.refusals.map((r) => `${r.repoName}:${r.reason}`) }, 'kill refused');
        return { freed: false, refusals: decision.refusals, session: await this.rows.get(id) };
      }
      const refusals: RepoRefusal[] = [];
      for (const { row, repo, plan } of decision.work) {
        crashPoint('kill.before_remove');
        const refusal = await this.killOne(row, repo, plan);
        if (refusal) {
          refusals.push(refusal);
          break;
        }
      }
      await rmdir(join(this.root, id)).catch(() => undefined);
      if (refusals.length === 0) {
        await this.abandonPending(id);
        this.rows.log.info({ session: id }, 'session killed');
      }
      return { freed: refusals.length === 0, refusals, session: await this.rows.get(id) };
    });
  }

  /**
   * Tears the session down whatever its state: worktrees holding work are preserved to a
   * recorded ref first, then removed; what no ref could hold stays, with the reason. Refuses
   * only while a live process works inside a worktree.
   */
  async cleanup(id: string): Promise<Session> {
    this.rows.checkId(id);
    return this.rows.withSession(id, async () => {
      const which = (r: WorktreeRow) => r.state === 'ACTIVE' || r.state === 'RETRY_REMOVE';
      let decision = await this.decide(await this.targets(id, which), 'cleanup');
      if (decision.kind === 'proceed' && (await this.runTeardowns(id, decision.work))) {
        decision = await this.decide(await this.targets(id, which), 'cleanup');
      }
      if (decision.kind === 'refused') {
        throw failedPrecondition('PROCESS_INSIDE', decision.refusals.map((r) => `${r.repoName}: ${r.message}`).join('; '));
      }
      for (const { row, repo, plan } of decision.work) await this.cleanupOne(row, repo, plan);
      await rmdir(join(this.root, id)).catch(() => undefined);
      await this.abandonPending(id);
      this.rows.log.info({ session: id }, 'session cleaned up');
      return this.rows.get(id);
    });
  }

  /** Finishes due begun or failed removals; called by a timer, and at start-up for all. */
  async retryRemovals(all = false): Promise<number> {
    const due = await this.rows.store
      .read()
      .find(WorktreeSchema, { state: 'RETRY_REMOVE', ...(all ? {} : { nextRetryAt: { $lte: new Date() } }) });
    let retried = 0;
    for (const stale of due) {
      await this.rows.withSession(stale.sessionId, async () => {
        const [target] = await this.targets(stale.sessionId, (r) => r.repoId === stale.repoId && r.state === 'RETRY_REMOVE');
        if (!target) return;
        retried++;
        await this.remove(target.row, target.repo, all ? 'the removal was cut short by a stop of the agent; finished at start-up' : '');
      });
    }
    return retried;
  }

  // ---- carrying the decision out ----------------------------------------------------------

  /**
   * Runs the repos' teardown commands in the worktrees about to be removed. A failure is
   * recorded on the row and logged; it never stops the removal, nor the preservation of
   * work. Answers whether any ran.
   */
  private async runTeardowns(id: string, work: Array<{ row: WorktreeRow; repo: RepoRow; plan: TeardownAction }>): Promise<boolean> {
    const due = work.filter(({ repo, plan }) => repo.teardown && (plan.action === 'remove' || plan.action === 'preserve_then_remove'));
    if (due.length === 0) return false;
    const { session } = await this.rows.load(id);
    for (const { row, repo } of due) {
      const env = { GROVE_SESSION_ID: id, GROVE_REPO: repo.name, ...portEnvironment(session.ports) };
      const failure = await runTeardown(repo.teardown, row.path, env);
      await this.rows.update(row, { teardownError: failure });
      if (failure) this.rows.log.warn({ session: id, repo: repo.name, why: failure }, 'teardown failed; removing all the same');
      else this.rows.log.info({ session: id, repo: repo.name }, 'teardown ran');
    }
    return true;
  }

  private async targets(id: string, which: (row: WorktreeRow) => boolean) {
    const { rows } = await this.rows.load(id);
    const targets: Array<{ row: WorktreeRow; repo: RepoRow }> = [];
    for (const row of rows.filter(which)) {
      const repo = await this.rows.repoOf(row);
      if (repo) targets.push({ row, repo });
    }
    return targets;
  }

  private async decide(targets: Array<{ row: WorktreeRow; repo: RepoRow }>, mode: TeardownMode) {
    const facts = [];
    for (const { row, repo } of targets) facts.push(await gatherTeardownFacts(row, repo));
    const decision = decideTeardown(facts, mode);
    if (decision.kind === 'refused') return decision;
    const work = decision.plans.map((p, i) => ({ ...targets[i]!, plan: p.plan }));
    return { kind: 'proceed' as const, work };
  }

  /** A kill's removal; a refusal when git finds the worktree changed since the check. */
  private async killOne(row: WorktreeRow, repo: RepoRow, plan: TeardownAction): Promise<RepoRefusal | undefined> {
    if (plan.action === 'forget') {
      await pruneWorktreeEntry(repo.path, row.path);
      await this.rows.transition(row, 'kill', { lastError: '' });
      return undefined;
    }
    await this.rows.transition(row, 'removal_started', removedIgnored(plan));
    try {
      // Untouched copies from the main checkout are not work, but git would count them.
      await removeUnchangedCopies(row.path, row.copied);
      // Not forced: git's own check is the last word if something changed since ours.
      await removeWorktree(repo.path, row.path, false);
    } catch (err) {
      await this.rows.transition(row, 'removal_refused');
      const failure = gitFailure('REMOVE_REFUSED', 'git refused to remove the worktree', err);
      return { repoId: row.repoId, repoName: row.repoName, reason: 'REMOVE_REFUSED', message: failure.message };
    }
    crashPoint('kill.after_remove');
    await this.rows.transition(row, 'removal_finished', { lastError: '' });
    return undefined;
  }

  private async cleanupOne(row: WorktreeRow, repo: RepoRow, plan: TeardownAction): Promise<void> {
    switch (plan.action) {
      case 'leave':
        await this.rows.update(row, { lastError: `not removed: ${plan.message}` });
        this.rows.log.warn({ session: row.sessionId, repo: row.repoName, why: plan.message }, 'worktree left in place');
        return;
      case 'preserve_then_remove':
        try {
          await this.preserve(row, plan.extraPaths);
        } catch (err) {
          // One repo that cannot be preserved must not stop the others (nor lose anything: it stays).
          const why = gitFailure('PRESERVE_FAILED', 'preserving failed', err).message;
          await this.rows.update(row, { lastError: `not removed: ${why}` });
          this.rows.log.warn({ session: row.sessionId, repo: row.repoName, why }, 'worktree left in place');
          return;
        }
        break;
      case 'forget':
      case 'remove':
      case 'finish_removal':
        break;
    }
    if (row.state === 'ACTIVE') await this.rows.transition(row, 'removal_started', removedIgnored(plan));
    await this.remove(row, repo);
  }

  private async preserve(row: WorktreeRow, ignoredToKeep: readonly string[]): Promise<void> {
    const ref = preservedRefFor(row.sessionId, row.repoName);
    const message = `preserved ${row.sessionId}/${row.repoName}`;
    const commit = await preserveWorktree(row.path, ref, message, row.preservedCommit || undefined, ignoredToKeep);
    crashPoint('preserve.after_ref');
    await this.rows.update(row, { preservedRef: ref, preservedCommit: commit });
    crashPoint('preserve.after_row');
    this.rows.log.info({ session: row.sessionId, repo: row.repoName, ref, commit }, 'worktree preserved');
  }

  /** Finishes a begun removal (RETRY_REMOVE): what was decided and preserved then is the truth. */
  private async remove(row: WorktreeRow, repo: RepoRow, note = ''): Promise<void> {
    try {
      await this.forceRemove(repo, row.path);
    } catch (err) {
      const attempts = row.removeAttempts + 1;
      const delay = Math.min(1000 * 2 ** (attempts - 1), MAX_BACKOFF_MS);
      await this.rows.transition(row, 'removal_failed', {
        lastError: gitFailure('REMOVE_FAILED', 'removal failed', err).message,
        removeAttempts: attempts,
        nextRetryAt: new Date(Date.now() + delay),
      });
      this.rows.log.warn(
        { session: row.sessionId, repo: row.repoName, attempts, retryInMs: delay, err },
        'worktree removal failed; will retry',
      );
      return;
    }
    crashPoint('remove.after_git');
    await this.rows.transition(row, row.preservedRef ? 'cleanup_preserved' : 'removal_finished', {
      lastError: note,
      removeAttempts: 0,
      nextRetryAt: null,
    });
  }

  /**
   * Removes a worktree whose state is already safe (preserved or clean). A removal that
   * failed half-way may leave a directory git no longer knows as a worktree; that remainder
   * is deleted directly.
   */
  private async forceRemove(repo: RepoRow, path: string): Promise<void> {
    if (crashPointReached('remove.midway') && existsSync(path)) {
      // Test-only: a removal cut short, as when the agent and its git children die together.
      await rm(join(path, firstTrackedName(path)), { recursive: true, force: true });
      crashPoint('remove.midway');
    }
    const registered = (await listWorktrees(repo.path)).some((w) => w.path === path);
    if (registered && existsSync(path)) await removeWorktree(repo.path, path, true);
    else if (existsSync(path)) await rm(path, { recursive: true });
    await pruneWorktreeEntry(repo.path, path);
  }
}

const firstTrackedName = (path: string) =>
  readdirSync(path)
    .filter((name) => name !== '.git')
    .sort()[0] ?? '';

function removedIgnored(plan: TeardownAction): Partial<WorktreeRow> {
  const ignored = plan.action === 'remove' || plan.action === 'preserve_then_remove' ? plan.ignored : [];
  return { removedIgnored: ignored.slice(0, MAX_IGNORED_LISTED), removedIgnoredTotal: ignored.length, nextRetryAt: null };
}
