import type { TaskActivityName } from '../domain/task-activity.js';
import type { EntityManager } from '@mikro-orm/sqlite';
import type { Session } from '../../../gen/grove/agent/v1/resources.js';
import { failedPrecondition, GroveError, invalidArgument, notFound, resourceExhausted } from '../../common/errors.js';
import { isWellFormedId } from '../../common/ids.js';
import { KeyedMutex } from '../../common/keyed-mutex.js';
import type { Logger } from '../../common/logging.js';
import type { SessionEventType } from '../domain/event-types.js';
import { nextWorktreeState, sessionStateFor, type WorktreeTransition } from '../domain/worktree-lifecycle.js';
import { GitError } from '../git/git.js';
import type { RepoService } from '../repos/repo-service.js';
import { SessionSchema, WorktreeSchema, type RepoRow, type SessionRow, type WorktreeRow } from '../store/entities.js';
import type { Store, Tx } from '../store/store.js';
import { sessionResource, toSessionProto } from './session-mapper.js';
import type { GroveReason } from '../../../wire/reasons.js';

/** Tells whether a session has a task running; tasks own that truth. */
export type WorkingProbe = (em: EntityManager, sessionId: string) => Promise<boolean>;
/** A session's activity, from its running tasks (the task service answers). */
export type ActivityProbe = (em: EntityManager, sessionId: string) => Promise<TaskActivityName>;

export const PRESERVED_PREFIX = 'refs/grove/preserved';
export const preservedRefFor = (sessionId: string, repoName: string) => `${PRESERVED_PREFIX}/${sessionId}/${repoName}`;

/** A git or filesystem failure as a FAILED_PRECONDITION a user can read (git's own words). */
export function gitFailure(reason: GroveReason, what: string, err: unknown): GroveError {
  if (err instanceof GroveError) return err;
  const detail = err instanceof GitError ? err.stderr.trim() : String((err as Error)?.message ?? err);
  if (/No space left on device|ENOSPC/.test(detail)) return resourceExhausted('DISK_FULL', `${what}: no space left on the device`);
  return failedPrecondition(reason, `${what}: ${detail}`);
}

/**
 * The session aggregate's store: session and worktree rows, their per-session lock, and the
 * `session.*` events that commit with every change. The parts of the session service
 * (create, teardown, preserved refs, orphans and drift) all change rows through here.
 */
export class WorktreeRows {
  /** Held by every operation that changes a session's worktrees (and by task launch). */
  readonly locks = new KeyedMutex();

  constructor(
    readonly store: Store,
    readonly repos: RepoService,
    readonly log: Logger,
    private readonly activityOf: ActivityProbe,
  ) {}

  /** Runs `work` while no other change to the session's worktrees can run. */
  withSession<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    return this.locks.run(`session:${sessionId}`, work);
  }

  checkId(id: string): void {
    if (!id) throw invalidArgument('SESSION_REQUIRED', 'a session id is required');
    if (!isWellFormedId('ses', id)) throw invalidArgument('BAD_SESSION_ID', `"${id.slice(0, 64)}" is not a session id`);
  }

  async load(id: string): Promise<{ session: SessionRow; rows: WorktreeRow[] }> {
    const em = this.store.read();
    const session = await em.findOne(SessionSchema, { id });
    if (!session) throw notFound('SESSION_NOT_FOUND', `no session "${id}" on this agent`);
    const rows = await em.find(WorktreeSchema, { sessionId: id }, { orderBy: { repoName: 'asc' } });
    return { session, rows };
  }

  async get(id: string): Promise<Session> {
    this.checkId(id);
    const em = this.store.read();
    const { session, rows } = await this.load(id);
    return toSessionProto(session, rows, await this.activityOf(em, id));
  }

  async toProto(em: EntityManager, session: SessionRow, rows: WorktreeRow[]): Promise<Session> {
    return toSessionProto(session, rows, await this.activityOf(em, session.id));
  }

  async rowOf(sessionId: string, repoIdOrName: string): Promise<WorktreeRow> {
    const { rows } = await this.load(sessionId);
    const row =
      rows.find((r) => r.repoId === repoIdOrName || r.repoName === repoIdOrName) ??
      (rows.length === 1 && !repoIdOrName ? rows[0] : undefined);
    if (!row) throw notFound('WORKTREE_NOT_FOUND', `session ${sessionId} has no worktree for repo "${repoIdOrName}"`);
    return row;
  }

  /** The row's repo, or undefined (with a warning) when the repo was removed since. */
  async repoOf(row: WorktreeRow): Promise<RepoRow | undefined> {
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

  /** Applies a lifecycle transition (refused by the domain when not allowed) with other changes. */
  async transition(row: WorktreeRow, transition: WorktreeTransition, changes: Partial<WorktreeRow> = {}): Promise<void> {
    const state = nextWorktreeState(row.state, transition);
    if (!state) throw new Error(`worktree ${row.sessionId}/${row.repoName}: ${transition} not allowed from ${row.state}`);
    await this.update(row, { ...changes, state });
  }

  /** Commits a row change, the session's derived state and the session event together. */
  async update(row: WorktreeRow, changes: Partial<WorktreeRow>): Promise<void> {
    await this.store.transact(async (tx) => {
      const fresh = await tx.em.findOneOrFail(WorktreeSchema, { sessionId: row.sessionId, repoId: row.repoId });
      Object.assign(fresh, changes);
      Object.assign(row, changes);
      const session = await tx.em.findOneOrFail(SessionSchema, { id: row.sessionId });
      const rows = await tx.em.find(WorktreeSchema, { sessionId: row.sessionId });
      session.state = sessionStateFor(
        session.state,
        rows.map((r) => r.state),
      );
      session.updatedAt = new Date();
      await tx.em.flush();
      await this.emit(tx, row.sessionId, 'session.updated');
    });
  }

  async setSession(id: string, changes: Partial<SessionRow>): Promise<void> {
    await this.store.transact(async (tx) => {
      const session = await tx.em.findOneOrFail(SessionSchema, { id });
      Object.assign(session, changes, { updatedAt: new Date() });
      await tx.em.flush();
      await this.emit(tx, id, 'session.updated');
    });
  }

  /** Records a `session.*` event with the session as it now is, in the caller's transaction. */
  async emit(tx: Tx, id: string, type: SessionEventType): Promise<void> {
    const session = await tx.em.findOneOrFail(SessionSchema, { id });
    const rows = await tx.em.find(WorktreeSchema, { sessionId: id }, { orderBy: { repoName: 'asc' } });
    tx.emit({
      type,
      resource: sessionResource(id),
      payload: { $case: 'session', value: await this.toProto(tx.em, session, rows) },
    });
  }
}
