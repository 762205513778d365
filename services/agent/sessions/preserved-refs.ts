import type { PreservedRef, Session } from '../../../gen/grove/agent/v1/resources.js';
import { failedPrecondition } from '../../common/errors.js';
import { isDirty } from '../domain/dirtiness.js';
import { applyPreservedState, deleteRef, listRefs, resolveCommit, worktreeStatus } from '../git/worktrees.js';
import { WorktreeSchema } from '../store/entities.js';
import { PRESERVED_PREFIX, type WorktreeRows } from './worktree-rows.js';

/** Preserved work: listed (recorded or only in git), applied back, or dropped on request. */
export class PreservedRefs {
  constructor(private readonly rows: WorktreeRows) {}

  /**
   * Preserved refs as recorded on rows, plus any found in git under refs/grove/preserved/
   * that no row records (a crash between writing the ref and the row): nothing is hidden.
   */
  async list(sessionId: string): Promise<PreservedRef[]> {
    if (sessionId) this.rows.checkId(sessionId);
    const rows = await this.rows.store.read().find(WorktreeSchema, sessionId ? { sessionId } : {});
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
    for (const repoId of new Set(rows.map((r) => r.repoId))) {
      const repo = await this.rows.repos.find(repoId).catch(() => undefined);
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

  /** Puts the preserved state back (tracked, untracked and kept ignored files) into the restored worktree. */
  async apply(sessionId: string, repoIdOrName: string): Promise<Session> {
    this.rows.checkId(sessionId);
    return this.rows.withSession(sessionId, async () => {
      const row = await this.rows.rowOf(sessionId, repoIdOrName);
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
      this.rows.log.info({ session: sessionId, repo: row.repoName, ref: row.preservedRef }, 'preserved state applied');
      await this.rows.update(row, { lastError: '' });
      return this.rows.get(sessionId);
    });
  }

  /** Deletes a preserved ref: the user's explicit discard. An UNAVAILABLE row becomes REMOVED. */
  async drop(sessionId: string, repoIdOrName: string): Promise<Session> {
    this.rows.checkId(sessionId);
    return this.rows.withSession(sessionId, async () => {
      const row = await this.rows.rowOf(sessionId, repoIdOrName);
      if (!row.preservedRef) throw failedPrecondition('NOTHING_PRESERVED', `${row.repoName} has no preserved state`);
      const repo = await this.rows.repoOf(row);
      if (repo) await deleteRef(repo.path, row.preservedRef);
      await this.rows.update(row, {
        preservedRef: '',
        preservedCommit: '',
        ...(row.state === 'UNAVAILABLE' ? { state: 'REMOVED' as const } : {}),
      });
      this.rows.log.info({ session: sessionId, repo: row.repoName }, 'preserved state dropped');
      return this.rows.get(sessionId);
    });
  }
}
