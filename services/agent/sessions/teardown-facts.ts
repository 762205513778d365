import { existsSync } from 'node:fs';
import type { WorktreeChanges, WorktreeFacts } from '../domain/worktree-teardown.js';
import {
  checkedOutBranch,
  hiddenChanges,
  ignoredMatching,
  ignoredPaths,
  nestedRepositories,
  repairWorktree,
  unreferencedCommits,
  worktreeStatus,
} from '../git/worktrees.js';
import { processesInside } from '../procs/proc-scan.js';
import type { RepoRow, WorktreeRow } from '../store/entities.js';
import { unchangedCopies } from './worktree-setup.js';

/**
 * Reads everything the teardown policy needs about one worktree, once. A worktree git
 * cannot read is repaired (`git worktree repair`) and read again; if it still cannot be
 * read its changes are unknown (undefined), which the policy treats as work. A removal that
 * had begun is not read at all: its remains are not work.
 */
export async function gatherTeardownFacts(row: WorktreeRow, repo: RepoRow): Promise<WorktreeFacts> {
  const base = { repoId: row.repoId, repoName: row.repoName, path: row.path };
  const removalBegun = row.state === 'RETRY_REMOVE';
  const exists = existsSync(row.path);
  if (removalBegun || !exists) {
    return { ...base, removalBegun, exists, processes: [], changes: undefined, nested: [], unreferencedCommits: 0 };
  }
  const processes = (await processesInside(row.path)).map((p) => p.pid);
  const changes = await readChanges(row, repo);
  const nested = changes ? await nestedRepositories(row.path, changes.untracked) : [];
  const detached = changes ? (await checkedOutBranch(row.path)) === '' : false;
  return {
    ...base,
    removalBegun,
    exists,
    processes,
    changes,
    nested,
    unreferencedCommits: detached ? await unreferencedCommits(row.path) : 0,
  };
}

async function readChanges(row: WorktreeRow, repo: RepoRow): Promise<WorktreeChanges | undefined> {
  const read = async (): Promise<WorktreeChanges> => {
    const status = await worktreeStatus(row.path);
    const keptIgnored = await ignoredMatching(row.path, repo.keepIgnored);
    const kept = new Set(keptIgnored);
    // Files copied in at creation and untouched since are the main checkout's, not work:
    // they go with the worktree like ignored files.
    const copies = await unchangedCopies(row.path, row.copied, [...status.untracked, ...keptIgnored]);
    const notCopy = (p: string) => !copies.has(p);
    return {
      ...status,
      untracked: status.untracked.filter(notCopy),
      hidden: await hiddenChanges(row.path),
      keptIgnored: keptIgnored.filter(notCopy),
      ignored: [...new Set([...(await ignoredPaths(row.path)).filter((p) => !kept.has(p)), ...copies])].sort(),
    };
  };
  try {
    return await read();
  } catch {
    await repairWorktree(repo.path, row.path).catch(() => undefined);
    return read().catch(() => undefined);
  }
}
