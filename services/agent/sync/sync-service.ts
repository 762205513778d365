import { SyncState, type Stash, type Sync } from '../../../gen/grove/agent/v1/resources.js';
import { failedPrecondition, invalidArgument, notFound } from '../../common/errors.js';
import { isWellFormedId, newId } from '../../common/ids.js';
import { KeyedMutex } from '../../common/keyed-mutex.js';
import type { Logger } from '../../common/logging.js';
import { crashPoint } from '../crash-points.js';
import { causeFor, isTransitionSafe, type SyncStateName } from '../domain/sync-lifecycle.js';
import {
  deleteBranch,
  fastForward,
  isAncestor,
  probeCheckout,
  resetToHead,
  setBranch,
  switchBranch,
  switchDetached,
} from '../git/checkout-state.js';
import { applyPreservedState, branchCommit, deleteRef, preserveWorktree, resolveCommit, worktreeStatus } from '../git/worktrees.js';
import type { RepoService } from '../repos/repo-service.js';
import type { SessionService, WorkingProbe } from '../sessions/session-service.js';
import { StashSchema, SyncSchema, type RepoRow, type StashRow, type SyncRow } from '../store/entities.js';
import type { Store, Tx } from '../store/store.js';
import { resourceName } from '../domain/event-types.js';

const STATES: Record<SyncStateName, SyncState> = {
  OFF: SyncState.SYNC_STATE_OFF,
  SYNCING: SyncState.SYNC_STATE_SYNCING,
  PAUSED: SyncState.SYNC_STATE_PAUSED,
};

export const syncBranchFor = (sessionId: string) => `grove/sync/${sessionId}`;

export function toSyncProto(row: SyncRow): Sync {
  return {
    repoId: row.repoId,
    sessionId: row.sessionId,
    state: STATES[row.state],
    causes: row.causes,
    syncBranch: row.syncBranch,
    originalBranch: row.originalBranch,
    stashId: row.stashId,
    updateTime: row.updatedAt,
  };
}

function toStashProto(row: StashRow, refMissing: boolean): Stash {
  return { id: row.id, repoId: row.repoId, ref: row.ref, commit: row.stashCommit, refMissing, createTime: row.createdAt };
}

export interface SyncServiceOptions {
  store: Store;
  repos: RepoService;
  sessions: SessionService;
  /** Whether a task runs in the session (the task service's answer; sync never reads tasks). */
  isWorking: WorkingProbe;
  log: Logger;
}

/**
 * Local sync: the user's own checkout of a repo follows a session's branch through a branch
 * of its own, `grove/sync/<session>` (git checks one branch out in one worktree only).
 * Commits flow by fast-forward both ways. Sync pauses by itself when the checkout is in a
 * state a transition would be unsafe in (isTransitionSafe decides), and resumes when the
 * causes clear. Stashes stand alone: stop never needs one.
 */
export class SyncService {
  private readonly mutex = new KeyedMutex();
  private readonly store: Store;
  private readonly repos: RepoService;
  private readonly sessions: SessionService;
  private readonly isWorking: WorkingProbe;
  private readonly log: Logger;

  constructor(options: SyncServiceOptions) {
    this.store = options.store;
    this.repos = options.repos;
    this.sessions = options.sessions;
    this.isWorking = options.isWorking;
    this.log = options.log;
  }

  // ---- start ----------------------------------------------------------------------------

  async start(sessionId: string, repoIdOrName: string): Promise<Sync> {
    const session = await this.sessions.get(sessionId);
    if (session.state !== 1) throw failedPrecondition('SESSION_NOT_ACTIVE', `session ${sessionId} is not active`);
    const worktree = repoIdOrName
      ? session.worktrees.find((w) => w.repoId === repoIdOrName || w.repoName === repoIdOrName)
      : session.worktrees.length === 1
        ? session.worktrees[0]
        : undefined;
    if (!worktree) {
      throw repoIdOrName
        ? notFound('WORKTREE_NOT_FOUND', `session ${sessionId} has no worktree for repo "${repoIdOrName}"`)
        : invalidArgument('REPO_REQUIRED', `session ${sessionId} spans several repos: name the one to sync`);
    }
    if (worktree.state !== 1) throw failedPrecondition('WORKTREE_NOT_ACTIVE', `the ${worktree.repoName} worktree is not active`);
    const repo = await this.repos.find(worktree.repoId);
    return this.mutex.run(repo.id, async () => {
      const existing = await this.store.read().findOne(SyncSchema, { repoId: repo.id });
      if (existing && existing.state !== 'OFF') {
        throw failedPrecondition('SYNC_ACTIVE', `${repo.path} already follows session ${existing.sessionId}; stop that sync first`);
      }
      const checkout = await probeCheckout(repo.path, '');
      const blocking = checkout.conditions.filter((c) => !isTransitionSafe('OFF', 'SYNCING', c));
      if (blocking.length) {
        const context = this.context(repo, syncBranchFor(sessionId), checkout.branch, session.branch);
        throw failedPrecondition('CHECKOUT_BUSY', blocking.map((c) => causeFor(c, context)).join('; '));
      }
      const dirty = checkout.conditions.includes('dirty') || checkout.conditions.includes('untracked_only');
      const syncBranch = syncBranchFor(sessionId);
      const tip = await branchCommit(repo.path, session.branch);
      if (!tip) throw failedPrecondition('BRANCH_MISSING', `session branch ${session.branch} is missing in ${repo.name}`);
      // A sync branch kept by an earlier stop holds commits the session lacks: never reset it.
      const kept = await branchCommit(repo.path, syncBranch);
      if (kept && !(await isAncestor(repo.path, kept, tip))) {
        throw failedPrecondition(
          'SYNC_BRANCH_HAS_COMMITS',
          `${syncBranch} holds commits that ${session.branch} does not; merge or rebase them into ${session.branch} (or delete ${syncBranch}) first`,
        );
      }
      let stashId = '';
      if (dirty) {
        const other = await this.store.read().findOne(StashSchema, { repoId: repo.id });
        if (other) {
          throw failedPrecondition(
            'STASH_EXISTS',
            `grove stash ${other.id} (${other.ref}) already holds earlier changes of ${repo.path}; apply or drop it before starting sync from a dirty tree`,
          );
        }
        stashId = newId('sta');
      }
      // The stash (ref + row) and the sync row are durable before the checkout is touched.
      const stash = stashId ? await this.stash(repo, stashId) : undefined;
      await this.store.transact(async (tx) => {
        if (stash) {
          tx.em.create(StashSchema, stash);
          tx.emit({
            type: 'stash.created',
            resource: resourceName('stashes', stash.id),
            payload: { $case: 'stash', value: toStashProto(stash, false) },
          });
        }
        const row = (await tx.em.findOne(SyncSchema, { repoId: repo.id })) ?? tx.em.create(SyncSchema, { repoId: repo.id } as SyncRow);
        Object.assign(row, {
          sessionId,
          state: 'SYNCING',
          causes: [],
          syncBranch,
          // Restarted while still on the sync branch: keep the branch recorded the first time.
          originalBranch: checkout.branch === syncBranch ? (existing?.originalBranch ?? '') : checkout.branch,
          originalCommit: checkout.branch === syncBranch ? (existing?.originalCommit ?? checkout.head) : checkout.head,
          stashId,
          updatedAt: new Date(),
        });
        this.emitSync(tx, row);
      });
      crashPoint('sync.after_stash');
      if (stash) await resetToHead(repo.path);
      if (checkout.branch !== syncBranch) {
        await setBranch(repo.path, syncBranch, tip);
        await switchBranch(repo.path, syncBranch);
      }
      this.log.info({ repo: repo.name, session: sessionId, stash: stashId || undefined }, 'sync started');
      return this.flushLocked(repo);
    });
  }

  private async stash(repo: RepoRow, id: string): Promise<StashRow> {
    const status = await worktreeStatus(repo.path);
    const ref = `refs/grove/stash/${id}`;
    const commit = await preserveWorktree(repo.path, ref, `stash ${id} of ${repo.name} before sync`);
    return { id, repoId: repo.id, ref, stashCommit: commit, untracked: status.untracked, createdAt: new Date() };
  }

  // ---- flush / probe --------------------------------------------------------------------

  async flush(repoIdOrName: string): Promise<Sync> {
    const repo = await this.repos.find(repoIdOrName);
    return this.mutex.run(repo.id, () => this.flushLocked(repo));
  }

  /** Re-validates every running sync: the periodic probe, start-up, and after tasks end. */
  async probeAll(sessionId?: string): Promise<void> {
    const rows = await this.store.read().find(SyncSchema, { state: { $in: ['SYNCING', 'PAUSED'] }, ...(sessionId ? { sessionId } : {}) });
    for (const row of rows) {
      try {
        const repo = await this.repos.find(row.repoId);
        await this.mutex.run(repo.id, () => this.flushLocked(repo));
      } catch (err) {
        this.log.warn({ err, repo: row.repoId }, 'sync probe failed');
      }
    }
  }

  /**
   * One sync step: work out the causes that pause sync; with none, bring session commits
   * into the checkout and checkout commits back to the session branch, by fast-forward only.
   */
  private async flushLocked(repo: RepoRow): Promise<Sync> {
    const sync = await this.store.read().findOne(SyncSchema, { repoId: repo.id });
    if (!sync || sync.state === 'OFF') throw failedPrecondition('NOT_SYNCING', `${repo.name} is not syncing`);
    const causes: string[] = [];
    const session = await this.sessions.get(sync.sessionId).catch(() => undefined);
    const worktree = session?.worktrees.find((w) => w.repoId === repo.id);
    if (!session || session.state !== 1 || !worktree || worktree.state !== 1) {
      causes.push(`session ${sync.sessionId} no longer has an active worktree of ${repo.name}: restore it or stop sync`);
    } else {
      const checkout = await probeCheckout(repo.path, sync.syncBranch);
      const sessionTip = await branchCommit(repo.path, session.branch);
      const syncTip = await branchCommit(repo.path, sync.syncBranch);
      const conditions = [...checkout.conditions];
      if (
        sessionTip &&
        syncTip &&
        !(await isAncestor(repo.path, syncTip, sessionTip)) &&
        !(await isAncestor(repo.path, sessionTip, syncTip))
      ) {
        conditions.push('diverged');
      }
      const context = this.context(repo, sync.syncBranch, checkout.branch, session.branch);
      for (const condition of conditions) {
        if (!isTransitionSafe(sync.state, 'SYNCING', condition)) causes.push(causeFor(condition, context)!);
      }
      if (causes.length === 0 && sessionTip && syncTip && sessionTip !== syncTip) {
        if (await isAncestor(repo.path, syncTip, sessionTip)) {
          const result = await fastForward(repo.path, session.branch);
          if (!result.ok) {
            causes.push(`uncommitted changes in ${repo.path} would be overwritten by the session's commits: commit or stash them`);
          } else {
            this.log.info({ repo: repo.name, session: session.id, to: sessionTip }, 'session commits brought into the checkout');
          }
        } else if (await this.canUpdateSession(worktree.path, session.id)) {
          const result = await fastForward(worktree.path, sync.syncBranch);
          if (result.ok)
            this.log.info({ repo: repo.name, session: session.id, to: syncTip }, 'checkout commits brought to the session branch');
        }
      }
    }
    const state: SyncStateName = causes.length ? 'PAUSED' : 'SYNCING';
    if (state !== sync.state || JSON.stringify(causes) !== JSON.stringify(sync.causes)) {
      await this.store.transact(async (tx) => {
        const row = await tx.em.findOneOrFail(SyncSchema, { repoId: repo.id });
        Object.assign(row, { state, causes, updatedAt: new Date() });
        this.emitSync(tx, row);
      });
      this.log.info({ repo: repo.name, state, causes }, state === 'PAUSED' ? 'sync paused' : 'sync resumed');
    }
    return toSyncProto((await this.store.read().findOne(SyncSchema, { repoId: repo.id }))!);
  }

  /** Commits flow back into the session only when its worktree is clean and no task runs. */
  private async canUpdateSession(worktreePath: string, sessionId: string): Promise<boolean> {
    if (await this.isWorking(this.store.read(), sessionId)) return false;
    const status = await worktreeStatus(worktreePath);
    return status.staged.length + status.tracked.length + status.untracked.length === 0;
  }

  // ---- stop -----------------------------------------------------------------------------

  /**
   * Always possible from SYNCING or PAUSED, and never rewrites the user's tree: the branch
   * the user was on is checked out again only when the checkout is clean and on the sync
   * branch; otherwise it is left as it is and the answer says why.
   */
  async stop(repoIdOrName: string, restoreStash: boolean): Promise<{ sync: Sync; stashMessage: string }> {
    const repo = await this.repos.find(repoIdOrName);
    return this.mutex.run(repo.id, async () => {
      const sync = await this.store.read().findOne(SyncSchema, { repoId: repo.id });
      if (!sync || sync.state === 'OFF') throw failedPrecondition('NOT_SYNCING', `${repo.name} is not syncing`);
      const checkout = await probeCheckout(repo.path, sync.syncBranch);
      const notes: string[] = [];
      const clean = checkout.conditions.length === 1 && checkout.conditions[0] === 'clean';
      if (clean && checkout.branch === sync.syncBranch) {
        // Stop must always succeed: a checkout it cannot switch back is left as it is, said so.
        try {
          if (sync.originalBranch && sync.originalBranch !== sync.syncBranch && (await branchCommit(repo.path, sync.originalBranch))) {
            await switchBranch(repo.path, sync.originalBranch);
          } else if (sync.originalCommit) {
            await switchDetached(repo.path, sync.originalCommit);
          }
          await this.dropSyncBranchIfMerged(repo, sync);
        } catch (err) {
          notes.push(`left ${repo.path} on ${sync.syncBranch}: ${(err as Error).message.split('\n')[0]}`);
        }
      } else {
        notes.push(`left ${repo.path} as it is (${checkout.conditions.join(', ')}${checkout.branch ? ` on ${checkout.branch}` : ''})`);
      }
      await this.store.transact(async (tx) => {
        const row = await tx.em.findOneOrFail(SyncSchema, { repoId: repo.id });
        Object.assign(row, { state: 'OFF', causes: [], updatedAt: new Date() });
        this.emitSync(tx, row);
      });
      if (restoreStash && sync.stashId) notes.push(await this.restoreOnStop(repo, sync.stashId));
      this.log.info({ repo: repo.name, session: sync.sessionId, notes }, 'sync stopped');
      return { sync: toSyncProto((await this.store.read().findOne(SyncSchema, { repoId: repo.id }))!), stashMessage: notes.join('; ') };
    });
  }

  // A sync branch holding commits the session branch lacks is kept: deleting it would lose them.
  private async dropSyncBranchIfMerged(repo: RepoRow, sync: SyncRow): Promise<void> {
    const syncTip = await branchCommit(repo.path, sync.syncBranch);
    const session = await this.sessions.get(sync.sessionId).catch(() => undefined);
    const sessionTip = session ? await branchCommit(repo.path, session.branch) : undefined;
    if (syncTip && sessionTip && (await isAncestor(repo.path, syncTip, sessionTip))) await deleteBranch(repo.path, sync.syncBranch);
  }

  private async restoreOnStop(repo: RepoRow, stashId: string): Promise<string> {
    const stash = await this.store.read().findOne(StashSchema, { id: stashId });
    if (!stash) return `stash ${stashId} is gone (dropped)`;
    const problem = await this.applyProblem(repo, stash);
    if (problem) return `stash ${stash.id} left alone: ${problem}; apply it later with ApplyStash`;
    await applyPreservedState(repo.path, stash.stashCommit);
    await this.drop(stash);
    return `stash ${stash.id} applied and dropped`;
  }

  // ---- stashes --------------------------------------------------------------------------

  async listStashes(repoIdOrName: string): Promise<Stash[]> {
    const repoId = repoIdOrName ? (await this.repos.find(repoIdOrName)).id : undefined;
    const rows = await this.store.read().find(StashSchema, repoId ? { repoId } : {}, { orderBy: { createdAt: 'asc' } });
    const result: Stash[] = [];
    for (const row of rows) {
      const repo = await this.repos.find(row.repoId).catch(() => undefined);
      const refCommit = repo ? await resolveCommit(repo.path, row.ref) : undefined;
      result.push(toStashProto(row, refCommit !== row.stashCommit));
    }
    return result;
  }

  /**
   * Applies a stash (tracked, staged and untracked content) to the clean checkout it was
   * taken from, at the commit it was taken on. Works from the recorded commit even when the
   * ref was deleted by hand. The stash stays until dropped.
   */
  async applyStash(id: string): Promise<Stash> {
    const stash = await this.findStash(id);
    const repo = await this.repos.find(stash.repoId);
    return this.mutex.run(repo.id, async () => {
      const problem = await this.applyProblem(repo, stash);
      if (problem) throw failedPrecondition('STASH_DOES_NOT_APPLY', `stash ${id} does not apply cleanly: ${problem}`);
      await applyPreservedState(repo.path, stash.stashCommit);
      this.log.info({ stash: id, repo: repo.name }, 'stash applied');
      return (await this.listStashes(repo.id)).find((s) => s.id === id)!;
    });
  }

  async dropStash(id: string): Promise<Stash> {
    const stash = await this.findStash(id);
    const refMissing = (await this.listStashes(stash.repoId)).find((s) => s.id === id)?.refMissing ?? true;
    await this.drop(stash);
    return toStashProto(stash, refMissing);
  }

  private async drop(stash: StashRow): Promise<void> {
    const repo = await this.repos.find(stash.repoId).catch(() => undefined);
    if (repo && (await resolveCommit(repo.path, stash.ref))) await deleteRef(repo.path, stash.ref);
    await this.store.transact(async (tx) => {
      await tx.em.nativeDelete(StashSchema, { id: stash.id });
      tx.emit({
        type: 'stash.dropped',
        resource: resourceName('stashes', stash.id),
        deleted: true,
        payload: { $case: 'stash', value: toStashProto(stash, true) },
      });
    });
  }

  /** Why a stash cannot be applied cleanly right now, or undefined. */
  private async applyProblem(repo: RepoRow, stash: StashRow): Promise<string | undefined> {
    if (!(await resolveCommit(repo.path, stash.stashCommit))) {
      return `its commit ${stash.stashCommit} is gone from the repository (garbage-collected); untracked files were: ${stash.untracked.join(', ') || 'none'}`;
    }
    const checkout = await probeCheckout(repo.path, '');
    if (!(checkout.conditions.length === 1 && checkout.conditions[0] === 'clean')) {
      return `${repo.path} is not clean (${checkout.conditions.join(', ')})`;
    }
    const base = await resolveCommit(repo.path, `${stash.stashCommit}^1`);
    if (checkout.head !== base) return `${repo.path} is not at the commit the stash was taken on (${base?.slice(0, 12)})`;
    return undefined;
  }

  private async findStash(id: string): Promise<StashRow> {
    if (!id) throw invalidArgument('STASH_REQUIRED', 'a stash id is required');
    if (!isWellFormedId('sta', id)) throw invalidArgument('BAD_STASH_ID', `"${id.slice(0, 64)}" is not a stash id`);
    const stash = await this.store.read().findOne(StashSchema, { id });
    if (!stash) throw notFound('STASH_NOT_FOUND', `no stash "${id}" on this agent`);
    return stash;
  }

  async list(): Promise<Sync[]> {
    return (await this.store.read().find(SyncSchema, {}, { orderBy: { repoId: 'asc' } })).map(toSyncProto);
  }

  private context(repo: RepoRow, syncBranch: string, branch: string, sessionBranch: string) {
    return { checkout: repo.path, syncBranch, branch, sessionBranch };
  }

  private emitSync(tx: Tx, row: SyncRow): void {
    tx.emit({ type: 'sync.updated', resource: resourceName('syncs', row.repoId), payload: { $case: 'sync', value: toSyncProto(row) } });
  }
}
