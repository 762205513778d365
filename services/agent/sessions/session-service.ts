import { existsSync } from 'node:fs';
import { rename, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntityManager } from '@mikro-orm/sqlite';
import type { CreateSessionRequest, KillSessionResponse, MovedPath } from '../../../gen/grove/agent/v1/agent_service.js';
import type { Orphan, PreservedRef, Session, SessionWorktree } from '../../../gen/grove/agent/v1/resources.js';
import { failedPrecondition, GroveError, invalidArgument, resourceExhausted } from '../../common/errors.js';
import { checkRequestId, newId } from '../../common/ids.js';
import type { Logger } from '../../common/logging.js';
import { checkLabels } from '../../common/paging.js';
import { crashPoint } from '../crash-points.js';
import { branchNameProblem } from '../../common/branch-name.js';
import {
  addWorktree,
  branchCommit,
  deleteBranchIfAt,
  listRefs,
  listWorktrees,
  pruneWorktreeEntry,
  removeWorktree,
  resolveCommit,
} from '../git/worktrees.js';
import type { BranchJobPort } from '../jobs/job-queue.js';
import type { DiskGuard } from '../procs/disk-space.js';
import { freeBlock, type PortPlan } from '../domain/port-blocks.js';
import type { RepoService } from '../repos/repo-service.js';
import {
  SessionSchema,
  WorktreeSchema,
  type CopiedFile,
  type Landing,
  type RepoRow,
  type SessionStateName,
  type SessionRow,
  type WorktreeRow,
  type WorktreeStateName,
} from '../store/entities.js';
import type { Store, Tx } from '../store/store.js';
import { OrphansAndDrift } from './orphans-and-drift.js';
import { PreservedRefs } from './preserved-refs.js';
import { SessionTeardown } from './session-teardown.js';
import { listSessions, type SessionListRequest } from './session-list.js';
import { copyFromCheckout, type SetupStep } from './worktree-setup.js';
import { gitFailure, WorktreeRows, type ActivityProbe } from './worktree-rows.js';

export { PRESERVED_PREFIX, preservedRefFor, type ActivityProbe, type WorkingProbe } from './worktree-rows.js';

const MAX_REPOS_PER_SESSION = 32;
const MAX_TITLE = 500;

export interface SessionServiceOptions {
  store: Store;
  repos: RepoService;
  worktreeRoot: string;
  log: Logger;
  activityOf?: ActivityProbe;
  /** Queues the register_branch jobs of sessions whose branch exists only on a remote. */
  branchJobs: BranchJobPort;
  /** Refuses new sessions while the disk is below --min-free-disk. */
  disk?: DiskGuard | undefined;
  /** --port-range and --ports-per-session: each session with a worktree holds a block. */
  ports?: PortPlan | undefined;
  /** Queues a new session's setup commands as its first tasks, in its create transaction. */
  queueSetup?: ((tx: Tx, sessionId: string, steps: SetupStep[]) => Promise<void>) | undefined;
}

// A session in these states holds its block of ports.
const HOLDS_PORTS: SessionStateName[] = ['ACTIVE', 'PENDING_BRANCH', 'SETTING_UP', 'SETUP_FAILED'];

interface PlannedWorktree {
  repo: RepoRow;
  path: string;
  /** Set when the branch is new: the commit it starts from. */
  startCommit?: string;
  /** The branch exists only on a remote: a register_branch job must fetch and attach it. */
  remoteOnly?: boolean;
  /** The repo's copy globs' files, copied in once the worktree was made. */
  copied?: CopiedFile[];
}

/**
 * Sessions and their worktrees: creation, reads and restore live here; teardown (kill and
 * cleanup), preserved refs, and orphans and drift are parts of their own behind this one
 * face. Git and filesystem work happens outside transactions, and each row's new state is
 * committed (with its event) right after the step that made it true, so a crash leaves rows
 * that tell the truth or that start-up reconciliation can put right without losing work.
 */
export class SessionService {
  private readonly rows: WorktreeRows;
  private readonly teardown: SessionTeardown;
  private readonly preserved: PreservedRefs;
  private readonly disk: OrphansAndDrift;
  private readonly store: Store;
  private readonly repos: RepoService;
  private readonly root: string;
  private readonly log: Logger;
  private readonly branchJobs: BranchJobPort;
  private readonly diskGuard: DiskGuard | undefined;
  private readonly portPlan: PortPlan | undefined;
  private readonly queueSetup: (tx: Tx, sessionId: string, steps: SetupStep[]) => Promise<void>;

  constructor(options: SessionServiceOptions) {
    this.store = options.store;
    this.repos = options.repos;
    this.root = options.worktreeRoot;
    this.log = options.log;
    this.branchJobs = options.branchJobs;
    this.diskGuard = options.disk;
    this.portPlan = options.ports;
    this.queueSetup = options.queueSetup ?? (async () => undefined);
    this.rows = new WorktreeRows(options.store, options.repos, options.log, options.activityOf ?? (async () => 'IDLE'));
    this.teardown = new SessionTeardown(this.rows, this.root, (id) => this.abandonPending(id));
    this.preserved = new PreservedRefs(this.rows);
    this.disk = new OrphansAndDrift(this.rows, this.root);
  }

  /** The session's first repo's worktree: the first repo named at creation (row insertion order). */
  async firstWorktree(sessionId: string): Promise<SessionWorktree | undefined> {
    const [first] = await this.store
      .read()
      .execute<Array<{ repo_id: string }>>('select repo_id from session_worktree where session_id = ? order by rowid limit 1', [sessionId]);
    const session = await this.get(sessionId);
    return session.worktrees.find((w) => w.repoId === first?.repo_id);
  }

  /** The state of one worktree of a session, undefined when it has none in that repo. */
  async worktreeState(sessionId: string, repoId: string): Promise<WorktreeStateName | undefined> {
    return (await this.store.read().findOne(WorktreeSchema, { sessionId, repoId }))?.state;
  }

  /** PENDING_BRANCH sessions with the repos their branch must be registered in (start-up). */
  async pendingBranchSessions(): Promise<Array<{ id: string; branch: string; repoIds: string[] }>> {
    const em = this.store.read();
    const pending = [];
    for (const session of await em.find(SessionSchema, { state: 'PENDING_BRANCH' })) {
      const rows = await em.find(WorktreeSchema, { sessionId: session.id });
      pending.push({ id: session.id, branch: session.branch, repoIds: rows.map((r) => r.repoId) });
    }
    return pending;
  }

  /** Runs `work` while no kill, cleanup or restore of the session can run (task launch). */
  withSessionLock<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    return this.rows.withSession(sessionId, work);
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
    checkLabels(request.labels);
    checkRequestId(request.requestId);
    if (request.requestId) {
      const existing = await this.store.read().findOne(SessionSchema, { requestId: request.requestId });
      if (existing) return this.get(existing.id);
    }
    this.diskGuard?.check('a new session');
    const repos: RepoRow[] = [];
    for (const idOrName of request.repoIds) {
      const repo = await this.repos.find(idOrName);
      if (repos.some((r) => r.id === repo.id)) {
        throw invalidArgument('DUPLICATE_REPO', `repo "${repo.name}" is named twice`);
      }
      repos.push(repo);
    }
    const id = newId('ses');
    return this.rows.locks.run(
      repos.map((r) => `repo:${r.id}`),
      async () => {
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
        try {
          for (const item of plan) item.copied = await copyFromCheckout(item.repo, item.path);
        } catch (err) {
          await this.rollbackCreate(id, branch, made);
          if (err instanceof GroveError) throw err;
          throw failedPrecondition('COPY_FAILED', `could not copy files into the new worktree: ${(err as Error).message}`);
        }
        const steps = plan
          .filter((item) => item.repo.setup)
          .map((item) => ({ repoId: item.repo.id, cwd: item.path, command: item.repo.setup }));
        await this.store
          .transact(async (tx) => {
            await this.insertSession(tx, id, request, steps.length > 0 ? 'SETTING_UP' : 'ACTIVE', plan, 'ACTIVE');
            await this.queueSetup(tx, id, steps);
            await this.rows.emit(tx, id, 'session.created');
          })
          .catch(async (err: unknown) => {
            await this.rollbackCreate(id, branch, plan);
            throw err;
          });
        this.log.info({ session: id, branch, repos: repos.map((r) => r.name) }, 'session created');
        return this.get(id);
      },
    );
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
    await this.store.transact(async (tx) => {
      await this.insertSession(tx, id, request, 'PENDING_BRANCH', plan, 'REMOVED');
      await this.rows.emit(tx, id, 'session.created');
    });
    let jobId = '';
    for (const item of plan.filter((p) => p.remoteOnly)) {
      jobId = await this.branchJobs.queueRegisterBranch(id, item.repo.id, request.branch);
    }
    await this.store.transact(async (tx) => {
      const session = await tx.em.findOneOrFail(SessionSchema, { id });
      session.pendingJobId = jobId;
      await tx.em.flush();
      await this.rows.emit(tx, id, 'session.updated');
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
    const ports = await this.allocatePorts(tx.em, id);
    tx.em.create(SessionSchema, {
      ports,
      id,
      title: request.title,
      branch: request.branch,
      base: request.base,
      state,
      labels: request.labels,
      requestId: request.requestId || null,
      lastError: '',
      pendingJobId: '',
      landings: [],
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
        removedIgnored: [],
        removedIgnoredTotal: 0,
        copied: item.copied ?? [],
        teardownError: '',
      });
    }
    await tx.em.flush();
  }

  /** Called when a session's register_branch job ends: activate, or show why not. */
  async branchJobEnded(sessionId: string, outcome: { ok: boolean; error: string; stillPending: boolean }): Promise<void> {
    await this.rows.locks.run(`session:${sessionId}`, async () => {
      const session = await this.store.read().findOne(SessionSchema, { id: sessionId });
      if (!session || session.state !== 'PENDING_BRANCH') return;
      if (!outcome.ok || outcome.stillPending) {
        if (!outcome.ok) await this.rows.setSession(sessionId, { lastError: `branch registration failed: ${outcome.error}` });
        return;
      }
      await this.rows.setSession(sessionId, { state: 'STOPPED', lastError: '', pendingJobId: '' });
      const { rows } = await this.rows.load(sessionId);
      const moved: MovedPath[] = [];
      const attached: Array<{ row: WorktreeRow; repo: RepoRow }> = [];
      for (const row of rows) {
        const repo = await this.rows.repoOf(row);
        if (repo && (await this.restoreRow(row, repo, moved))) attached.push({ row, repo });
      }
      await this.setUpAgain(sessionId, attached);
      this.log.info({ session: sessionId }, 'branch registered; session active');
    });
  }

  /** Kill or cleanup of a session still waiting for its branch: it stops waiting. */
  private async abandonPending(id: string): Promise<void> {
    const session = await this.store.read().findOne(SessionSchema, { id });
    if (session?.state === 'PENDING_BRANCH') await this.rows.setSession(id, { state: 'STOPPED', pendingJobId: '' });
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

  /**
   * GetSession: the session with each worktree's drift as the disk shows it right now. A read
   * only looks: the drift shown is not written, and nothing is repaired here (background
   * maintenance does that), so a read during a cleanup can never get in its way.
   */
  async inspect(id: string): Promise<Session> {
    this.rows.checkId(id);
    const em = this.store.read();
    const { session, rows } = await this.rows.load(id);
    const seen = await Promise.all(rows.map(async (row) => ({ ...row, drift: await this.disk.driftOf(row) })));
    return this.rows.toProto(em, session, seen);
  }

  get(id: string): Promise<Session> {
    return this.rows.get(id);
  }

  async list(request: SessionListRequest) {
    return listSessions(this.store, this.rows, request, request.repoId ? (await this.repos.find(request.repoId)).id : undefined);
  }

  /** How many sessions hold a live worktree of the repo: RemoveRepo refuses while any do. */
  static async repoUsage(em: EntityManager, repoId: string): Promise<number> {
    return em.count(WorktreeSchema, { repoId, state: { $in: ['ACTIVE', 'RETRY_REMOVE'] } });
  }

  // ---- teardown, preserved refs, orphans and drift: their own parts --------------------

  kill(id: string): Promise<KillSessionResponse> {
    return this.teardown.kill(id);
  }

  cleanup(id: string): Promise<Session> {
    return this.teardown.cleanup(id);
  }

  /** Background maintenance: finishes due removals and records (and repairs) drift. */
  async maintain(): Promise<void> {
    await this.teardown.retryRemovals();
    await this.disk.repairDrift();
  }

  listPreserved(sessionId: string): Promise<PreservedRef[]> {
    return this.preserved.list(sessionId);
  }

  applyPreserved(sessionId: string, repoIdOrName: string): Promise<Session> {
    return this.preserved.apply(sessionId, repoIdOrName);
  }

  dropPreserved(sessionId: string, repoIdOrName: string): Promise<Session> {
    return this.preserved.drop(sessionId, repoIdOrName);
  }

  listOrphans(): Promise<Orphan[]> {
    return this.disk.listOrphans();
  }

  pruneOrphans(): Promise<Orphan[]> {
    return this.disk.pruneOrphans();
  }

  /**
   * Start-up reconciliation: rows whose directory vanished, drift, and every removal that
   * had begun (a crash half-way through one is finished now, from what was recorded).
   */
  async reconcile(): Promise<{ removalsRetried: number }> {
    await this.disk.reconcile();
    return { removalsRetried: await this.teardown.retryRemovals(true) };
  }

  // ---- restore --------------------------------------------------------------------------

  /**
   * Recreates REMOVED and UNAVAILABLE worktrees on their branches. A stray path in the way is
   * renamed aside, never deleted. A row that cannot be restored keeps its state with
   * last_error and does not stop the others.
   */
  async restore(ids: string[], all: boolean): Promise<{ sessions: Session[]; moved: MovedPath[] }> {
    if (!all && ids.length === 0) throw invalidArgument('SESSIONS_REQUIRED', 'name sessions to restore, or ask for all');
    ids.forEach((id) => this.rows.checkId(id));
    const targetIds = all
      ? [
          ...new Set(
            (await this.store.read().find(WorktreeSchema, { state: { $in: ['REMOVED', 'UNAVAILABLE'] } })).map((r) => r.sessionId),
          ),
        ].sort()
      : ids;
    for (const id of targetIds) await this.rows.load(id); // NOT_FOUND before anything changes
    const moved: MovedPath[] = [];
    const sessions: Session[] = [];
    for (const id of targetIds) {
      await this.rows.locks.run(`session:${id}`, async () => {
        await this.reclaimPorts(id);
        const { rows } = await this.rows.load(id);
        const restored: Array<{ row: WorktreeRow; repo: RepoRow }> = [];
        for (const row of rows.filter((r) => r.state === 'REMOVED' || r.state === 'UNAVAILABLE')) {
          const repo = await this.rows.repoOf(row);
          if (!repo) continue;
          if (await this.restoreRow(row, repo, moved)) restored.push({ row, repo });
        }
        await this.setUpAgain(id, restored);
      });
      sessions.push(await this.get(id));
    }
    return { sessions, moved };
  }

  /**
   * A restored (or newly attached) worktree is set up like a new one: its repo's files copied
   * in again and its setup command queued, the session SETTING_UP until that succeeds. A copy
   * that fails is shown on the worktree; the worktree itself stays.
   */
  private async setUpAgain(id: string, restored: Array<{ row: WorktreeRow; repo: RepoRow }>): Promise<void> {
    for (const { row, repo } of restored) {
      try {
        const copied = await copyFromCheckout(repo, row.path);
        if (copied.length > 0) await this.rows.update(row, { copied });
      } catch (err) {
        await this.rows.update(row, { lastError: `copying ${repo.copyGlobs.join(' ')} failed: ${(err as Error).message}` });
      }
    }
    const steps = restored
      .filter(({ repo }) => repo.setup)
      .map(({ row, repo }) => ({ repoId: repo.id, cwd: row.path, command: repo.setup }));
    if (steps.length === 0) return;
    await this.store.transact(async (tx) => {
      const session = await tx.em.findOneOrFail(SessionSchema, { id });
      if (session.state !== 'ACTIVE') return;
      session.state = 'SETTING_UP';
      session.updatedAt = new Date();
      await tx.em.flush();
      await this.queueSetup(tx, id, steps);
      await this.rows.emit(tx, id, 'session.updated');
    });
  }

  /** Recreates one worktree; answers whether it is back. */
  private async restoreRow(row: WorktreeRow, repo: RepoRow, moved: MovedPath[]): Promise<boolean> {
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
      await this.rows.update(row, { lastError: failure.message });
      this.log.warn({ session: row.sessionId, repo: row.repoName, err: failure.message }, 'restore of a worktree failed');
      return false;
    }
    await this.rows.transition(row, 'restore', { lastError: '', drift: '', copied: [], teardownError: '' });
    return true;
  }

  /** Records a session.updated event in the caller's transaction (e.g. its activity changed). */
  /**
   * A block of ports no session with a worktree holds (none without --port-range), in the
   * caller's transaction: two creates never get the same block. RESOURCE_EXHAUSTED when all
   * are held.
   */
  private async allocatePorts(em: EntityManager, sessionId: string): Promise<number[]> {
    if (!this.portPlan) return [];
    const holders = await em.find(SessionSchema, { state: { $in: HOLDS_PORTS }, id: { $ne: sessionId } }, { fields: ['ports'] });
    const block = freeBlock(
      this.portPlan,
      holders.map((s) => s.ports),
    );
    if (!block) {
      const { first, last, perSession } = this.portPlan;
      throw resourceExhausted(
        'PORTS_EXHAUSTED',
        `every block of ${perSession} port(s) in ${first}-${last} is held by a session; remove one first`,
      );
    }
    return block;
  }

  /** A session coming back (restore) keeps its ports unless another session holds them now. */
  private async reclaimPorts(id: string): Promise<void> {
    if (!this.portPlan) return;
    await this.store.transact(async (tx) => {
      const session = await tx.em.findOneOrFail(SessionSchema, { id });
      const holders = await tx.em.find(SessionSchema, { state: { $in: HOLDS_PORTS }, id: { $ne: id } }, { fields: ['ports'] });
      const taken = new Set(holders.flatMap((h) => h.ports));
      if (session.ports.length > 0 && session.ports.every((p) => !taken.has(p))) return;
      session.ports = await this.allocatePorts(tx.em, id);
      await tx.em.flush();
    });
  }

  /** The session's ports, for its tasks' environment. */
  async portsOf(sessionId: string): Promise<number[]> {
    return (await this.store.read().findOne(SessionSchema, { id: sessionId }, { fields: ['ports'] }))?.ports ?? [];
  }

  /** Adds what a land moved to the session's record of landings (shown by session get). */
  async recordLandings(id: string, landed: Landing[]): Promise<void> {
    const { session } = await this.rows.load(id);
    // A land job resumed after a crash records what it landed again: once per job and repo.
    const known = new Set(session.landings.map((l) => `${l.jobId}/${l.repoId}`));
    const fresh = landed.filter((l) => !known.has(`${l.jobId}/${l.repoId}`));
    if (fresh.length > 0) await this.rows.setSession(id, { landings: [...session.landings, ...fresh] });
  }

  async emitSessionIn(tx: Tx, id: string): Promise<void> {
    await this.rows.emit(tx, id, 'session.updated');
  }
}
