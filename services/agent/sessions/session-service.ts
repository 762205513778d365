import { existsSync } from 'node:fs';
import { readdir, rename, rm, rmdir } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { EntityManager } from '@mikro-orm/sqlite';
import type {
  CreateSessionRequest,
  KillSessionResponse,
  MovedPath,
  RepoRefusal,
} from '../../../gen/grove/agent/v1/agent_service.js';
import { Orphan_Kind, type Orphan, type PreservedRef, type Session } from '../../../gen/grove/agent/v1/resources.js';
import {
  failedPrecondition,
  GroveError,
  invalidArgument,
  notFound,
} from '../../common/errors.js';
import { isWellFormedId, newId } from '../../common/ids.js';
import { KeyedMutex } from '../../common/keyed-mutex.js';
import type { Logger } from '../../common/logging.js';
import { decodePageToken, matchesLabels, pageSize, parseLabels, takePage } from '../../common/paging.js';
import { crashPoint } from '../crash-points.js';
import { branchNameProblem } from '../domain/branch-name.js';
import { dirtinessReasons, isDirty, type Dirtiness } from '../domain/dirtiness.js';
import { nextWorktreeState, sessionStateFor, type WorktreeTransition } from '../domain/worktree-lifecycle.js';
import { GitError } from '../git/git.js';
import {
  addWorktree,
  applyPreservedState,
  branchCommit,
  checkedOutBranch,
  deleteBranchIfAt,
  deleteRef,
  listRefs,
  listWorktrees,
  nestedRepositories,
  preserveWorktree,
  pruneWorktreeEntry,
  removeWorktree,
  repairWorktree,
  resolveCommit,
  unreferencedCommits,
  worktreeStatus,
} from '../git/worktrees.js';
import { processesInside } from '../procs/proc-scan.js';
import type { RepoService } from '../repos/repo-service.js';
import { SessionSchema, WorktreeSchema, type RepoRow, type SessionRow, type WorktreeRow } from '../store/entities.js';
import type { Store, Tx } from '../store/store.js';
import { sessionResource, sessionStateFromProto, toSessionProto } from './session-mapper.js';

const MAX_REPOS_PER_SESSION = 32;
const MAX_TITLE = 500;
const MAX_BACKOFF_MS = 5 * 60_000;
export const PRESERVED_PREFIX = 'refs/grove/preserved';

/** Tells whether a session has a task running; tasks own that truth. */
export type WorkingProbe = (em: EntityManager, sessionId: string) => Promise<boolean>;

export interface SessionServiceOptions {
  store: Store;
  repos: RepoService;
  worktreeRoot: string;
  log: Logger;
  isWorking?: WorkingProbe;
}

interface PlannedWorktree {
  repo: RepoRow;
  path: string;
  /** Set when the branch is new: the commit it starts from. */
  startCommit?: string;
  /** The branch exists only on a remote: a register_branch job must fetch and attach it. */
  remoteOnly?: boolean;
}

/** Submits the register_branch job of a PENDING_BRANCH session (the job service, bound late). */
export type BranchJobSubmitter = (sessionId: string, repoId: string, branch: string) => Promise<string>;

export const preservedRefFor = (sessionId: string, repoName: string) => `${PRESERVED_PREFIX}/${sessionId}/${repoName}`;

function gitFailure(reason: string, what: string, err: unknown): GroveError {
  if (err instanceof GroveError) return err;
  const detail = err instanceof GitError ? err.stderr.trim() : String((err as Error)?.message ?? err);
  return failedPrecondition(reason, `${what}: ${detail}`);
}

/**
 * Sessions and their worktrees. Every operation fans out over the session's rows; git and
 * filesystem work happens outside transactions, and each row's new state is committed (with
 * its event) right after the step that made it true, so a crash leaves rows that tell the
 * truth or that start-up reconciliation can put right without losing work.
 */
export class SessionService {
  private readonly locks = new KeyedMutex();
  private readonly store: Store;
  private readonly repos: RepoService;
  private readonly root: string;
  private readonly log: Logger;
  private readonly isWorking: WorkingProbe;
  private submitBranchJob: BranchJobSubmitter | undefined;

  constructor(options: SessionServiceOptions) {
    this.store = options.store;
    this.repos = options.repos;
    this.root = options.worktreeRoot;
    this.log = options.log;
    this.isWorking = options.isWorking ?? (async () => false);
  }

  /** Runs `work` while no kill, cleanup or restore of the session can run (task launch). */
  withSessionLock<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    return this.locks.run(`session:${sessionId}`, work);
  }

  /** Jobs and sessions need each other; the job service registers itself here. */
  bindBranchJobs(submit: BranchJobSubmitter): void {
    this.submitBranchJob = submit;
  }

  // ---- create ---------------------------------------------------------------------------

  async create(request: CreateSessionRequest): Promise<Session> {
    const branch = request.branch;
    const problem = branchNameProblem(branch);
    if (problem) throw invalidArgument('BAD_BRANCH_NAME', `branch name "${branch}" ${problem}`);
    if (request.repoIds.length === 0) throw invalidArgument('REPOS_REQUIRED', 'a session needs at least one repo');
    if (request.repoIds.length > MAX_REPOS_PER_SESSION) {
      throw invalidArgument('TOO_MANY_REPOS', `a session spans at most ${MAX_REPOS_PER_SESSION} repos`);
    }
    if (request.title.length > MAX_TITLE) throw invalidArgument('TITLE_TOO_LONG', `title is over ${MAX_TITLE} characters`);
    if (request.base && (request.base.startsWith('-') || request.base.length > 256 || /[\s\0]/.test(request.base))) {
      throw invalidArgument('BAD_BASE', `base "${request.base}" is not a usable revision`);
    }
    for (const key of Object.keys(request.labels)) parseLabels(`${key}=x`);
    if (request.requestId) {
      const existing = await this.store.read().findOne(SessionSchema, { requestId: request.requestId });
      if (existing) return this.get(existing.id);
    }
    const repos: RepoRow[] = [];
    for (const idOrName of request.repoIds) {
      const repo = await this.repos.find(idOrName);
      if (repos.some((r) => r.id === repo.id)) {
        throw invalidArgument('DUPLICATE_REPO', `repo "${repo.name}" is named twice`);
      }
      repos.push(repo);
    }
    const id = newId('ses');
    return this.locks.run(repos.map((r) => `repo:${r.id}`), async () => {
      const plan = await this.planWorktrees(id, branch, request.base, repos);
      if (plan.some((item) => item.remoteOnly)) return this.createPending(id, request, plan);
      const made: PlannedWorktree[] = [];
      try {
        for (const item of plan) {
          await addWorktree(item.repo.path, item.path, branch, item.startCommit);
          made.push(item);
          crashPoint('create.after_worktree');
        }
      } catch (err) {
        await this.rollbackCreate(id, branch, made);
        throw gitFailure('WORKTREE_ADD_FAILED', 'could not create the worktree', err);
      }
      await this.store.transact(async (tx) => {
        await this.insertSession(tx, id, request, 'ACTIVE', plan, 'ACTIVE');
        await this.emitSession(tx, id, 'session.created');
      }).catch(async (err: unknown) => {
        await this.rollbackCreate(id, branch, plan);
        throw err;
      });
      this.log.info({ session: id, branch, repos: repos.map((r) => r.name) }, 'session created');
      return this.get(id);
    });
  }

  /** Checks every repo before anything is made, so most failures change nothing at all. */
  private async planWorktrees(id: string, branch: string, base: string, repos: RepoRow[]): Promise<PlannedWorktree[]> {
    const plan: PlannedWorktree[] = [];
    for (const repo of repos) {
      const path = join(this.root, id, repo.name);
      if (await branchCommit(repo.path, branch)) {
        const holder = (await listWorktrees(repo.path)).find((w) => w.branch === branch);
        if (holder) {
          throw failedPrecondition(
            'BRANCH_CHECKED_OUT',
            `branch "${branch}" of repo "${repo.name}" is already checked out at ${holder.path}`,
          );
        }
        plan.push({ repo, path });
      } else if (!base && (await this.remoteTrackingBranch(repo, branch))) {
        plan.push({ repo, path, remoteOnly: true });
      } else {
        const from = base || repo.defaultBranch;
        const startCommit = await resolveCommit(repo.path, from);
        if (!startCommit) {
          throw invalidArgument('BASE_NOT_FOUND', `base "${from}" does not name a commit in repo "${repo.name}"`);
        }
        plan.push({ repo, path, startCommit });
      }
    }
    return plan;
  }

  /** A branch known only as a remote-tracking ref (cheap, local: no network here). */
  private async remoteTrackingBranch(repo: RepoRow, branch: string): Promise<string | undefined> {
    const refs = await listRefs(repo.path, 'refs/remotes/');
    return refs.find((r) => r.ref.split('/').slice(3).join('/') === branch)?.ref;
  }

  /**
   * A session on a branch that must first be fetched: recorded at once in PENDING_BRANCH with
   * REMOVED rows, and a register_branch job per remote-only repo. When the jobs succeed the
   * rows are restored and the session turns ACTIVE; a failed job's error shows on the session.
   */
  private async createPending(id: string, request: CreateSessionRequest, plan: PlannedWorktree[]): Promise<Session> {
    if (!this.submitBranchJob) throw failedPrecondition('JOBS_UNAVAILABLE', 'branch registration jobs are not available');
    await this.store.transact(async (tx) => {
      await this.insertSession(tx, id, request, 'PENDING_BRANCH', plan, 'REMOVED');
      await this.emitSession(tx, id, 'session.created');
    });
    let jobId = '';
    for (const item of plan.filter((p) => p.remoteOnly)) {
      jobId = await this.submitBranchJob(id, item.repo.id, request.branch);
    }
    await this.store.transact(async (tx) => {
      const session = await tx.em.findOneOrFail(SessionSchema, { id });
      session.pendingJobId = jobId;
      await tx.em.flush();
      await this.emitSession(tx, id, 'session.updated');
    });
    this.log.info({ session: id, branch: request.branch, job: jobId }, 'session waiting for its branch');
    return this.get(id);
  }

  /** Inserts a session and its worktree rows (two flushes: the rows reference the session). */
  private async insertSession(
    tx: Tx,
    id: string,
    request: CreateSessionRequest,
    state: SessionRow['state'],
    plan: PlannedWorktree[],
    worktreeState: WorktreeRow['state'],
  ): Promise<void> {
    const now = new Date();
    tx.em.create(SessionSchema, {
      id,
      title: request.title,
      branch: request.branch,
      base: request.base,
      state,
      labels: request.labels,
      requestId: request.requestId || null,
      lastError: '',
      pendingJobId: '',
      createdAt: now,
      updatedAt: now,
    });
    await tx.em.flush();
    for (const item of plan) {
      tx.em.create(WorktreeSchema, {
        sessionId: id,
        repoId: item.repo.id,
        repoName: item.repo.name,
        path: item.path,
        branch: request.branch,
        createdBranch: item.startCommit !== undefined,
        state: worktreeState,
        preservedRef: '',
        preservedCommit: '',
        lastError: '',
        drift: '',
        removeAttempts: 0,
        nextRetryAt: null,
      });
    }
    await tx.em.flush();
  }

  /** Called when a session's register_branch job ends: activate, or show why not. */
  async branchJobEnded(sessionId: string, outcome: { ok: boolean; error: string; stillPending: boolean }): Promise<void> {
    await this.locks.run(`session:${sessionId}`, async () => {
      const session = await this.store.read().findOne(SessionSchema, { id: sessionId });
      if (!session || session.state !== 'PENDING_BRANCH') return;
      if (!outcome.ok || outcome.stillPending) {
        if (!outcome.ok) await this.setSession(sessionId, { lastError: `branch registration failed: ${outcome.error}` });
        return;
      }
      await this.setSession(sessionId, { state: 'STOPPED', lastError: '', pendingJobId: '' });
      const { rows } = await this.load(sessionId);
      const moved: MovedPath[] = [];
      for (const row of rows) {
        const repo = await this.repoOf(row);
        if (repo) await this.restoreRow(row, repo, moved);
      }
      this.log.info({ session: sessionId }, 'branch registered; session active');
    });
  }

  /** Kill or cleanup of a session still waiting for its branch: it stops waiting. */
  private async abandonPending(id: string): Promise<void> {
    const session = await this.store.read().findOne(SessionSchema, { id });
    if (session?.state === 'PENDING_BRANCH') await this.setSession(id, { state: 'STOPPED', pendingJobId: '' });
  }

  private async setSession(id: string, changes: Partial<SessionRow>): Promise<void> {
    await this.store.transact(async (tx) => {
      const session = await tx.em.findOneOrFail(SessionSchema, { id });
      Object.assign(session, changes, { updatedAt: new Date() });
      await tx.em.flush();
      await this.emitSession(tx, id, 'session.updated');
    });
  }

  // The worktrees were made moments ago by us: nothing in them is the user's.
  private async rollbackCreate(id: string, branch: string, made: PlannedWorktree[]): Promise<void> {
    for (const item of made.reverse()) {
      try {
        await removeWorktree(item.repo.path, item.path, true);
        if (item.startCommit) await deleteBranchIfAt(item.repo.path, branch, item.startCommit);
      } catch (err) {
        this.log.error({ err, session: id, repo: item.repo.name }, 'rollback of a new worktree failed');
      }
    }
    await rmdir(join(this.root, id)).catch(() => undefined);
  }

  // ---- read -----------------------------------------------------------------------------

  /** A session with its rows checked against the disk first (drift), for GetSession. */
  async inspect(id: string): Promise<Session> {
    this.checkId(id);
    await this.load(id);
    await this.probeDrift(id);
    return this.get(id);
  }

  async get(id: string): Promise<Session> {
    this.checkId(id);
    const em = this.store.read();
    const session = await em.findOne(SessionSchema, { id });
    if (!session) throw notFound('SESSION_NOT_FOUND', `no session "${id}" on this agent`);
    const rows = await em.find(WorktreeSchema, { sessionId: id }, { orderBy: { repoName: 'asc' } });
    return toSessionProto(session, rows, await this.isWorking(em, id));
  }

  async list(request: { pageSize: number; pageToken: string; state: number; repoId: string; labelSelector: string }) {
    const size = pageSize(request.pageSize);
    const after = decodePageToken(request.pageToken);
    const selector = parseLabels(request.labelSelector);
    const state = request.state ? sessionStateFromProto(request.state) : undefined;
    const repoId = request.repoId ? (await this.repos.find(request.repoId)).id : undefined;
    return this.store.readConsistent(async (em) => {
      const sessions: Session[] = [];
      let cursor = after;
      // Label filtering happens in memory: scan in id order until the page is full.
      const repoSessions = repoId ? await this.sessionIdsOfRepo(em, repoId) : undefined;
      for (;;) {
        const idFilter: { $gt?: string; $in?: string[] } = {};
        if (cursor) idFilter.$gt = cursor;
        if (repoSessions) idFilter.$in = repoSessions;
        const rows = await em.find(
          SessionSchema,
          { ...(Object.keys(idFilter).length ? { id: idFilter } : {}), ...(state ? { state } : {}) },
          { orderBy: { id: 'asc' }, limit: size + 1 },
        );
        for (const row of rows) {
          if (!matchesLabels(row.labels, selector)) continue;
          const worktrees = await em.find(WorktreeSchema, { sessionId: row.id }, { orderBy: { repoName: 'asc' } });
          sessions.push(toSessionProto(row, worktrees, await this.isWorking(em, row.id)));
          if (sessions.length > size) break;
        }
        if (sessions.length > size || rows.length <= size) break;
        cursor = rows[rows.length - 1]!.id;
      }
      const { page, nextPageToken } = takePage(sessions, size, (s) => s.id);
      return { sessions: page, nextPageToken };
    });
  }

  private async sessionIdsOfRepo(em: EntityManager, repoId: string): Promise<string[]> {
    const rows = await em.find(WorktreeSchema, { repoId }, { fields: ['sessionId'] });
    return rows.map((r) => r.sessionId);
  }

  /** How many sessions hold a live worktree of the repo: RemoveRepo refuses while any do. */
  static async repoUsage(em: EntityManager, repoId: string): Promise<number> {
    return em.count(WorktreeSchema, { repoId, state: { $in: ['ACTIVE', 'RETRY_REMOVE'] } });
  }

  // ---- kill -----------------------------------------------------------------------------

  /**
   * Removes the session's clean worktrees, or nothing: every row is checked (dirtiness and
   * processes inside) before any is removed, so a refusal never leaves a partial teardown.
   */
  async kill(id: string): Promise<KillSessionResponse> {
    this.checkId(id);
    return this.locks.run(`session:${id}`, async () => {
      const { rows } = await this.load(id);
      const targets: Array<{ row: WorktreeRow; repo: RepoRow }> = [];
      const refusals: RepoRefusal[] = [];
      for (const row of rows.filter((r) => r.state === 'ACTIVE')) {
        const repo = await this.repoOf(row);
        if (!repo) continue;
        targets.push({ row, repo });
        if (!existsSync(row.path)) continue;
        refusals.push(...(await this.refusalsFor(row, true)));
      }
      if (refusals.length > 0) {
        this.log.info({ session: id, refusals: refusals.map((r) => `${r.repoName}:${r.reason}`) }, 'kill refused');
        return { freed: false, refusals, session: await this.get(id) };
      }
      for (const { row, repo } of targets) {
        crashPoint('kill.before_remove');
        try {
          if (existsSync(row.path)) await removeWorktree(repo.path, row.path, false);
          else await pruneWorktreeEntry(repo.path, row.path);
        } catch (err) {
          // Something changed between the check and the removal: report it as a refusal.
          refusals.push({
            repoId: row.repoId,
            repoName: row.repoName,
            reason: 'REMOVE_REFUSED',
            message: gitFailure('REMOVE_REFUSED', 'git refused to remove the worktree', err).message,
          });
          break;
        }
        crashPoint('kill.after_remove');
        await this.transition(row, 'kill', { lastError: '' });
      }
      await rmdir(join(this.root, id)).catch(() => undefined);
      if (refusals.length === 0) await this.abandonPending(id);
      const session = await this.get(id);
      if (refusals.length === 0) this.log.info({ session: id }, 'session killed');
      return { freed: refusals.length === 0, refusals, session };
    });
  }

  /** Why a row cannot be torn down as it is: processes inside, and (for kill) dirtiness. */
  private async refusalsFor(row: WorktreeRow, checkDirty: boolean): Promise<RepoRefusal[]> {
    const refusals: RepoRefusal[] = [];
    const procs = await processesInside(row.path);
    if (procs.length > 0) {
      refusals.push({
        repoId: row.repoId,
        repoName: row.repoName,
        reason: 'PROCESS_INSIDE',
        message: `live process ${procs.map((p) => `pid ${p.pid}`).join(', ')} has its working directory in ${row.path}`,
      });
    }
    if (checkDirty) {
      const dirt = await this.readState(row);
      if (!dirt) {
        refusals.push({
          repoId: row.repoId,
          repoName: row.repoName,
          reason: 'STATE_UNREADABLE',
          message: `git cannot read the worktree at ${row.path} (its .git link may be broken), so its changes are unknown`,
        });
      }
      for (const { reason, message } of dirt ? dirtinessReasons(dirt) : []) {
        refusals.push({ repoId: row.repoId, repoName: row.repoName, reason, message });
      }
      const nested = dirt ? await nestedRepositories(row.path, dirt.untracked) : [];
      if (nested.length > 0) {
        refusals.push({ repoId: row.repoId, repoName: row.repoName, reason: 'NESTED_REPOSITORY', message: `git repositories inside: ${nested.slice(0, 5).join(', ')}` });
      }
      const unreferenced = dirt && (await checkedOutBranch(row.path)) === '' ? await unreferencedCommits(row.path) : 0;
      if (unreferenced > 0) {
        refusals.push({
          repoId: row.repoId,
          repoName: row.repoName,
          reason: 'UNREFERENCED_COMMITS',
          message: `HEAD is detached with ${unreferenced} commit(s) on no branch; put them on a branch first`,
        });
      }
    }
    return refusals;
  }

  // ---- cleanup --------------------------------------------------------------------------

  /**
   * Tears the session down whatever its state: dirty rows are first preserved to a ref that
   * is recorded on the row, and only then force-removed. Refuses only while a live process
   * works inside a worktree.
   */
  async cleanup(id: string): Promise<Session> {
    this.checkId(id);
    return this.locks.run(`session:${id}`, async () => {
      const { rows } = await this.load(id);
      const targets = rows.filter((r) => r.state === 'ACTIVE' || r.state === 'RETRY_REMOVE');
      const refusals: RepoRefusal[] = [];
      for (const row of targets) {
        if (existsSync(row.path)) refusals.push(...(await this.refusalsFor(row, false)));
      }
      if (refusals.length > 0) {
        throw failedPrecondition('PROCESS_INSIDE', refusals.map((r) => `${r.repoName}: ${r.message}`).join('; '));
      }
      for (const row of targets) {
        const repo = await this.repoOf(row);
        // One repo that cannot be preserved must not stop the others (nor lose anything: it stays).
        if (repo) {
          await this.preserveAndRemove(row, repo).catch((err: unknown) =>
            this.leaveInPlace(row, gitFailure('PRESERVE_FAILED', 'preserving failed', err).message),
          );
        }
      }
      await rmdir(join(this.root, id)).catch(() => undefined);
      await this.abandonPending(id);
      this.log.info({ session: id }, 'session cleaned up');
      return this.get(id);
    });
  }

  /**
   * The worktree's changes, repairing its git links first if git cannot read it; undefined
   * when it still cannot (then nobody can tell whether it holds work).
   */
  private async readState(row: WorktreeRow): Promise<Dirtiness | undefined> {
    try {
      return await worktreeStatus(row.path);
    } catch {
      const repo = await this.repoOf(row);
      if (repo) await repairWorktree(repo.path, row.path).catch(() => undefined);
      return worktreeStatus(row.path).catch(() => undefined);
    }
  }

  private async leaveInPlace(row: WorktreeRow, why: string): Promise<void> {
    await this.update(row, { lastError: `not removed: ${why}` });
    this.log.warn({ session: row.sessionId, repo: row.repoName, why }, 'worktree left in place');
  }

  private async preserveAndRemove(row: WorktreeRow, repo: RepoRow): Promise<void> {
    // Once a removal has begun (RETRY_REMOVE) the directory may be half deleted: a recorded
    // preservation is the one that holds the work and is never replaced.
    if (existsSync(row.path) && !(row.state === 'RETRY_REMOVE' && row.preservedRef)) {
      const dirt = await this.readState(row);
      // A worktree nobody can read may hold work: it stays, unless its removal had already
      // begun (RETRY_REMOVE), which happens only after it was found clean or preserved.
      if (!dirt && row.state === 'ACTIVE') {
        await this.leaveInPlace(row, `git cannot read the worktree at ${row.path} (its .git link may be broken), so its work could not be preserved`);
        return;
      }
      if (dirt) {
        const nested = await nestedRepositories(row.path, dirt.untracked);
        if (nested.length > 0) {
          await this.leaveInPlace(row, `it holds git repositories of its own (${nested.slice(0, 5).join(', ')}), whose history a preserved ref cannot hold; commit, push or move them first`);
          return;
        }
      }
      const detachedWork = dirt && (await checkedOutBranch(row.path)) === '' && (await unreferencedCommits(row.path)) > 0;
      if ((dirt && isDirty(dirt)) || detachedWork) {
        const ref = preservedRefFor(row.sessionId, row.repoName);
        const commit = await preserveWorktree(row.path, ref, `preserved ${row.sessionId}/${row.repoName}`, row.preservedCommit || undefined);
        crashPoint('preserve.after_ref');
        await this.update(row, { preservedRef: ref, preservedCommit: commit });
        crashPoint('preserve.after_row');
        this.log.info({ session: row.sessionId, repo: row.repoName, ref, commit }, 'worktree preserved');
      }
    }
    try {
      await this.forceRemove(repo, row.path);
    } catch (err) {
      const attempts = row.removeAttempts + 1;
      const delay = Math.min(1000 * 2 ** (attempts - 1), MAX_BACKOFF_MS);
      await this.transition(row, 'removal_failed', {
        lastError: gitFailure('REMOVE_FAILED', 'removal failed', err).message,
        removeAttempts: attempts,
        nextRetryAt: new Date(Date.now() + delay),
      });
      this.log.warn({ session: row.sessionId, repo: row.repoName, attempts, retryInMs: delay, err }, 'worktree removal failed; will retry');
      return;
    }
    crashPoint('remove.after_git');
    await this.transition(row, row.preservedRef ? 'cleanup_preserved' : 'cleanup_clean', {
      lastError: '',
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
    const registered = (await listWorktrees(repo.path)).some((w) => w.path === path);
    if (registered && existsSync(path)) await removeWorktree(repo.path, path, true);
    else if (existsSync(path)) await rm(path, { recursive: true });
    await pruneWorktreeEntry(repo.path, path);
  }

  /** Retries due RETRY_REMOVE rows; called by a timer and at start-up (`all`). */
  async retryRemovals(all = false): Promise<number> {
    const due = await this.store
      .read()
      .find(WorktreeSchema, { state: 'RETRY_REMOVE', ...(all ? {} : { nextRetryAt: { $lte: new Date() } }) });
    let retried = 0;
    for (const stale of due) {
      await this.locks.run(`session:${stale.sessionId}`, async () => {
        const row = await this.store.read().findOne(WorktreeSchema, { sessionId: stale.sessionId, repoId: stale.repoId });
        if (row?.state !== 'RETRY_REMOVE') return;
        const repo = await this.repoOf(row);
        if (!repo) return;
        retried++;
        await this.preserveAndRemove(row, repo);
      });
    }
    return retried;
  }

  // ---- restore --------------------------------------------------------------------------

  /**
   * Recreates REMOVED and UNAVAILABLE worktrees on their branches. A stray path in the way is
   * renamed aside, never deleted. A row that cannot be restored keeps its state with
   * last_error and does not stop the others.
   */
  async restore(ids: string[], all: boolean): Promise<{ sessions: Session[]; moved: MovedPath[] }> {
    if (!all && ids.length === 0) throw invalidArgument('SESSIONS_REQUIRED', 'name sessions to restore, or ask for all');
    ids.forEach((id) => this.checkId(id));
    const targetIds = all
      ? [
          ...new Set(
            (await this.store.read().find(WorktreeSchema, { state: { $in: ['REMOVED', 'UNAVAILABLE'] } })).map((r) => r.sessionId),
          ),
        ].sort()
      : ids;
    for (const id of targetIds) await this.load(id); // NOT_FOUND before anything changes
    const moved: MovedPath[] = [];
    const sessions: Session[] = [];
    for (const id of targetIds) {
      await this.locks.run(`session:${id}`, async () => {
        const { rows } = await this.load(id);
        for (const row of rows.filter((r) => r.state === 'REMOVED' || r.state === 'UNAVAILABLE')) {
          const repo = await this.repoOf(row);
          if (!repo) continue;
          await this.restoreRow(row, repo, moved);
        }
      });
      sessions.push(await this.get(id));
    }
    return { sessions, moved };
  }

  private async restoreRow(row: WorktreeRow, repo: RepoRow, moved: MovedPath[]): Promise<void> {
    try {
      if (!(await branchCommit(repo.path, row.branch))) {
        throw failedPrecondition('BRANCH_MISSING', `branch "${row.branch}" no longer exists in repo "${repo.name}"`);
      }
      await pruneWorktreeEntry(repo.path, row.path);
      const holder = (await listWorktrees(repo.path)).find((w) => w.branch === row.branch);
      if (holder) {
        throw failedPrecondition('BRANCH_CHECKED_OUT', `branch "${row.branch}" is checked out at ${holder.path}`);
      }
      if (existsSync(row.path)) {
        const aside = `${row.path}.stray-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        await rename(row.path, aside);
        moved.push({ from: row.path, to: aside });
        this.log.warn({ session: row.sessionId, from: row.path, to: aside }, 'stray path moved aside');
      }
      await addWorktree(repo.path, row.path, row.branch);
    } catch (err) {
      const failure = gitFailure('RESTORE_FAILED', `could not restore ${row.repoName}`, err);
      await this.update(row, { lastError: failure.message });
      this.log.warn({ session: row.sessionId, repo: row.repoName, err: failure.message }, 'restore of a worktree failed');
      return;
    }
    await this.transition(row, 'restore', { lastError: '', drift: '' });
  }

  // ---- preserved refs -------------------------------------------------------------------

  /**
   * Preserved refs as recorded on rows, plus any found in git under refs/grove/preserved/
   * that no row records (a crash between writing the ref and the row): nothing is hidden.
   */
  async listPreserved(sessionId: string): Promise<PreservedRef[]> {
    if (sessionId) this.checkId(sessionId);
    const em = this.store.read();
    const rows = await em.find(WorktreeSchema, sessionId ? { sessionId } : {});
    const found = new Map<string, PreservedRef>();
    for (const row of rows) {
      if (row.preservedRef) {
        found.set(`${row.repoId}:${row.preservedRef}`, {
          sessionId: row.sessionId,
          repoId: row.repoId,
          ref: row.preservedRef,
          commit: row.preservedCommit,
        });
      }
    }
    const repoIds = [...new Set(rows.map((r) => r.repoId))];
    for (const repoId of repoIds) {
      const repo = await this.repos.find(repoId).catch(() => undefined);
      if (!repo) continue;
      const prefix = sessionId ? `${PRESERVED_PREFIX}/${sessionId}/` : `${PRESERVED_PREFIX}/`;
      for (const { ref, commit } of await listRefs(repo.path, prefix)) {
        const key = `${repoId}:${ref}`;
        if (!found.has(key)) {
          const owner = ref.slice(PRESERVED_PREFIX.length + 1).split('/')[0] ?? '';
          found.set(key, { sessionId: owner, repoId, ref, commit });
        }
      }
    }
    return [...found.values()].sort((a, b) => a.ref.localeCompare(b.ref));
  }

  /** Puts the preserved state back (tracked and untracked) into the restored worktree. */
  async applyPreserved(sessionId: string, repoIdOrName: string): Promise<Session> {
    this.checkId(sessionId);
    return this.locks.run(`session:${sessionId}`, async () => {
      const row = await this.rowOf(sessionId, repoIdOrName);
      if (!row.preservedRef) throw failedPrecondition('NOTHING_PRESERVED', `${row.repoName} has no preserved state`);
      if (row.state !== 'ACTIVE') {
        throw failedPrecondition('WORKTREE_NOT_ACTIVE', `restore the session first: the ${row.repoName} worktree is ${row.state}`);
      }
      const dirt = await worktreeStatus(row.path);
      if (isDirty(dirt)) {
        throw failedPrecondition('WORKTREE_DIRTY', `the ${row.repoName} worktree has changes; commit or clean them before applying`);
      }
      const head = await resolveCommit(row.path, 'HEAD');
      const base = await resolveCommit(row.path, `${row.preservedCommit}^1`);
      if (head !== base) {
        throw failedPrecondition(
          'HEAD_MOVED',
          `HEAD of ${row.repoName} moved since the state was preserved; apply it by hand with \`git checkout ${row.preservedRef} -- .\``,
        );
      }
      await applyPreservedState(row.path, row.preservedCommit);
      this.log.info({ session: sessionId, repo: row.repoName, ref: row.preservedRef }, 'preserved state applied');
      await this.update(row, { lastError: '' });
      return this.get(sessionId);
    });
  }

  /** Deletes a preserved ref: the user's explicit discard. An UNAVAILABLE row becomes REMOVED. */
  async dropPreserved(sessionId: string, repoIdOrName: string): Promise<Session> {
    this.checkId(sessionId);
    return this.locks.run(`session:${sessionId}`, async () => {
      const row = await this.rowOf(sessionId, repoIdOrName);
      if (!row.preservedRef) throw failedPrecondition('NOTHING_PRESERVED', `${row.repoName} has no preserved state`);
      const repo = await this.repoOf(row);
      if (repo) await deleteRef(repo.path, row.preservedRef);
      await this.update(row, {
        preservedRef: '',
        preservedCommit: '',
        ...(row.state === 'UNAVAILABLE' ? { state: 'REMOVED' as const } : {}),
      });
      this.log.info({ session: sessionId, repo: row.repoName }, 'preserved state dropped');
      return this.get(sessionId);
    });
  }

  // ---- orphans and drift ----------------------------------------------------------------

  /** Directories under the root that no live row owns, and git worktree entries whose directory is gone. */
  async listOrphans(): Promise<Orphan[]> {
    const em = this.store.read();
    const rows = await em.find(WorktreeSchema, {});
    const live = new Set(rows.filter((r) => r.state === 'ACTIVE' || r.state === 'RETRY_REMOVE').map((r) => r.path));
    const sessions = new Set(rows.map((r) => r.sessionId));
    const orphans: Orphan[] = [];
    for (const entry of await readdir(this.root, { withFileTypes: true })) {
      const path = join(this.root, entry.name);
      if (!entry.isDirectory() || !sessions.has(entry.name)) {
        orphans.push({ kind: Orphan_Kind.KIND_DIRECTORY, path, repoId: '' });
        continue;
      }
      for (const child of await readdir(path)) {
        const childPath = join(path, child);
        if (!live.has(childPath)) {
          orphans.push({ kind: Orphan_Kind.KIND_DIRECTORY, path: childPath, repoId: rows.find((r) => r.path === childPath)?.repoId ?? '' });
        }
      }
    }
    orphans.push(...(await this.staleWorktrees()));
    return orphans;
  }

  private async staleWorktrees(): Promise<Orphan[]> {
    const { repos } = await this.repos.list(1000, '');
    const stale: Orphan[] = [];
    for (const repo of repos) {
      for (const entry of await listWorktrees(repo.path)) {
        // Only Grove's own: the user's other worktrees are none of its business.
        if (entry.prunable && entry.path.startsWith(this.root + sep)) {
          stale.push({ kind: Orphan_Kind.KIND_STALE_WORKTREE, path: entry.path, repoId: repo.id });
        }
      }
    }
    return stale;
  }

  /** Prunes only Grove's stale worktree entries; directories are never deleted here. */
  async pruneOrphans(): Promise<Orphan[]> {
    const stale = await this.staleWorktrees();
    for (const orphan of stale) await pruneWorktreeEntry((await this.repos.find(orphan.repoId)).path, orphan.path);
    if (stale.length) this.log.info({ pruned: stale.map((o) => o.path) }, 'stale worktree entries pruned');
    return stale;
  }

  /**
   * Compares ACTIVE rows with the disk: a missing directory, a lost `.git` file (repaired with
   * `git worktree repair` when git still has the worktree's admin files), or a switched
   * branch is recorded as drift with its cause, never silently misreported.
   */
  async probeDrift(sessionId?: string): Promise<void> {
    const rows = await this.store.read().find(WorktreeSchema, { state: 'ACTIVE', ...(sessionId ? { sessionId } : {}) });
    for (const row of rows) {
      const repo = await this.repoOf(row);
      if (!repo) continue;
      let drift = '';
      if (!existsSync(row.path)) {
        drift = 'worktree directory is missing';
      } else {
        if (!existsSync(join(row.path, '.git'))) {
          await repairWorktree(repo.path, row.path).catch(() => undefined);
          if (!existsSync(join(row.path, '.git'))) drift = '.git file is missing and could not be repaired';
          else this.log.warn({ session: row.sessionId, repo: row.repoName }, 'lost .git file repaired');
        }
        if (!drift) {
          const branch = await checkedOutBranch(row.path).catch(() => '');
          if (branch !== row.branch) {
            drift = branch ? `branch switched to "${branch}" (expected "${row.branch}")` : `HEAD is detached (expected branch "${row.branch}")`;
          }
        }
      }
      if (drift !== row.drift) await this.update(row, { drift });
    }
  }

  /**
   * Start-up reconciliation of worktree rows with the disk. An ACTIVE row whose directory is
   * gone was removed by a step that crashed before recording it (or by someone else): it is
   * UNAVAILABLE if its preserved ref exists, else REMOVED; either is restorable.
   */
  async reconcile(): Promise<{ removalsRetried: number }> {
    const rows = await this.store.read().find(WorktreeSchema, { state: 'ACTIVE' });
    for (const row of rows) {
      if (existsSync(row.path)) continue;
      const repo = await this.repoOf(row);
      if (!repo) continue;
      await pruneWorktreeEntry(repo.path, row.path).catch(() => undefined);
      const preserved = row.preservedRef && (await resolveCommit(repo.path, row.preservedRef)) === row.preservedCommit;
      await this.transition(row, preserved ? 'cleanup_preserved' : 'kill', {
        lastError: 'worktree directory was missing at start-up',
      });
    }
    await this.probeDrift();
    return { removalsRetried: await this.retryRemovals(true) };
  }

  // ---- helpers --------------------------------------------------------------------------

  private checkId(id: string): void {
    if (!id) throw invalidArgument('SESSION_REQUIRED', 'a session id is required');
    if (!isWellFormedId('ses', id)) throw invalidArgument('BAD_SESSION_ID', `"${id.slice(0, 64)}" is not a session id`);
  }

  private async load(id: string): Promise<{ session: SessionRow; rows: WorktreeRow[] }> {
    const em = this.store.read();
    const session = await em.findOne(SessionSchema, { id });
    if (!session) throw notFound('SESSION_NOT_FOUND', `no session "${id}" on this agent`);
    const rows = await em.find(WorktreeSchema, { sessionId: id }, { orderBy: { repoName: 'asc' } });
    return { session, rows };
  }

  private async rowOf(sessionId: string, repoIdOrName: string): Promise<WorktreeRow> {
    const { rows } = await this.load(sessionId);
    const row = rows.find((r) => r.repoId === repoIdOrName || r.repoName === repoIdOrName) ?? (rows.length === 1 && !repoIdOrName ? rows[0] : undefined);
    if (!row) throw notFound('WORKTREE_NOT_FOUND', `session ${sessionId} has no worktree for repo "${repoIdOrName}"`);
    return row;
  }

  /** The row's repo, or undefined (with a warning) when the repo was removed since. */
  private async repoOf(row: WorktreeRow): Promise<RepoRow | undefined> {
    try {
      return await this.repos.find(row.repoId);
    } catch (err) {
      if (err instanceof GroveError && err.reason === 'REPO_NOT_FOUND') {
        this.log.warn({ session: row.sessionId, repo: row.repoName }, 'repo of this worktree was removed; skipping it');
        return undefined;
      }
      throw err;
    }
  }

  private async transition(row: WorktreeRow, transition: WorktreeTransition, changes: Partial<WorktreeRow>): Promise<void> {
    const state = nextWorktreeState(row.state, transition);
    if (!state) throw new Error(`worktree ${row.sessionId}/${row.repoName}: ${transition} not allowed from ${row.state}`);
    await this.update(row, { ...changes, state });
  }

  /** Commits a row change, the session's derived state and the session event together. */
  private async update(row: WorktreeRow, changes: Partial<WorktreeRow>): Promise<void> {
    await this.store.transact(async (tx) => {
      const fresh = await tx.em.findOneOrFail(WorktreeSchema, { sessionId: row.sessionId, repoId: row.repoId });
      Object.assign(fresh, changes);
      Object.assign(row, changes);
      const session = await tx.em.findOneOrFail(SessionSchema, { id: row.sessionId });
      const rows = await tx.em.find(WorktreeSchema, { sessionId: row.sessionId });
      session.state = sessionStateFor(session.state, rows.map((r) => r.state));
      session.updatedAt = new Date();
      await tx.em.flush();
      await this.emitSession(tx, row.sessionId, 'session.updated');
    });
  }

  /** Records a session.updated event in the caller's transaction (e.g. its activity changed). */
  async emitSessionIn(tx: Tx, id: string): Promise<void> {
    await this.emitSession(tx, id, 'session.updated');
  }

  private async emitSession(tx: Tx, id: string, type: string): Promise<void> {
    const session = await tx.em.findOneOrFail(SessionSchema, { id });
    const rows = await tx.em.find(WorktreeSchema, { sessionId: id }, { orderBy: { repoName: 'asc' } });
    tx.emit({
      type,
      resource: sessionResource(id),
      payload: { $case: 'session', value: toSessionProto(session, rows, await this.isWorking(tx.em, id)) },
    });
  }
}
