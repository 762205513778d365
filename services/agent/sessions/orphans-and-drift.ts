import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { Orphan_Kind, type Orphan } from '../../../gen/grove/agent/v1/resources.js';
import { checkedOutBranch, listWorktrees, pruneWorktreeEntry, repairWorktree, resolveCommit } from '../git/worktrees.js';
import { WorktreeSchema, type WorktreeRow } from '../store/entities.js';
import type { WorktreeRows } from './worktree-rows.js';

const LOST_GIT_FILE = '.git file is missing';

/**
 * What is on disk against what the rows say: orphans (directories and git entries no row
 * owns), drift (a worktree whose branch, directory or .git link is not what its row says),
 * and the start-up reconciliation of rows with the disk. Reads only look; repairs happen
 * at start-up and in the agent's background maintenance, never inside a read RPC.
 */
export class OrphansAndDrift {
  constructor(
    private readonly rows: WorktreeRows,
    private readonly root: string,
  ) {}

  /** Directories under the root that no live row owns, and git worktree entries whose directory is gone. */
  async listOrphans(): Promise<Orphan[]> {
    const rows = await this.rows.store.read().find(WorktreeSchema, {});
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
    const { repos } = await this.rows.repos.list(1000, '');
    const stale: Orphan[] = [];
    for (const repo of repos) {
      if (!existsSync(repo.path)) continue; // a repo whose directory is gone has no entries to read
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
    for (const orphan of stale) await pruneWorktreeEntry((await this.rows.repos.find(orphan.repoId)).path, orphan.path);
    if (stale.length) this.rows.log.info({ pruned: stale.map((o) => o.path) }, 'stale worktree entries pruned');
    return stale;
  }

  /** The row's drift as the disk shows it now, without changing anything. */
  async driftOf(row: WorktreeRow): Promise<string> {
    if (row.state !== 'ACTIVE') return row.drift;
    if (!existsSync(row.path)) return 'worktree directory is missing';
    if (!existsSync(join(row.path, '.git'))) return LOST_GIT_FILE;
    const branch = await checkedOutBranch(row.path).catch(() => '');
    if (branch === row.branch) return '';
    return branch ? `branch switched to "${branch}" (expected "${row.branch}")` : `HEAD is detached (expected branch "${row.branch}")`;
  }

  /**
   * Background maintenance: records drift on ACTIVE rows, repairing a lost `.git` file with
   * `git worktree repair` when git still has the worktree's admin files.
   */
  async repairDrift(sessionId?: string): Promise<void> {
    const rows = await this.rows.store.read().find(WorktreeSchema, { state: 'ACTIVE', ...(sessionId ? { sessionId } : {}) });
    for (const row of rows) {
      await this.rows.withSession(row.sessionId, async () => {
        const fresh = await this.rows.store.read().findOne(WorktreeSchema, { sessionId: row.sessionId, repoId: row.repoId });
        if (fresh?.state !== 'ACTIVE') return;
        let drift = await this.driftOf(fresh);
        if (drift === LOST_GIT_FILE) {
          const repo = await this.rows.repoOf(fresh);
          if (repo && existsSync(repo.path)) await repairWorktree(repo.path, fresh.path).catch(() => undefined);
          drift = await this.driftOf(fresh);
          if (drift === LOST_GIT_FILE) drift = '.git file is missing and could not be repaired';
          else this.rows.log.warn({ session: fresh.sessionId, repo: fresh.repoName }, 'lost .git file repaired');
        }
        if (drift !== fresh.drift) await this.rows.update(fresh, { drift });
      });
    }
  }

  /**
   * Start-up reconciliation of worktree rows with the disk. An ACTIVE row whose directory is
   * gone was removed by something else: it is UNAVAILABLE if its preserved ref exists, else
   * REMOVED; either is restorable. (A removal Grove began is RETRY_REMOVE and is finished.)
   */
  async reconcile(): Promise<void> {
    const rows = await this.rows.store.read().find(WorktreeSchema, { state: 'ACTIVE' });
    for (const row of rows) {
      if (existsSync(row.path)) continue;
      const repo = await this.rows.repoOf(row);
      if (!repo || !existsSync(repo.path)) continue;
      await pruneWorktreeEntry(repo.path, row.path).catch(() => undefined);
      const preserved = row.preservedRef && (await resolveCommit(repo.path, row.preservedRef)) === row.preservedCommit;
      await this.rows.transition(row, preserved ? 'cleanup_preserved' : 'kill', {
        lastError: 'worktree directory was missing at start-up',
      });
    }
    await this.repairDrift();
  }
}
