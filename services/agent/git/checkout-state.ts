import { existsSync } from 'node:fs';
import type { CheckoutCondition } from '../domain/sync-lifecycle.js';
import { git } from './git.js';
import { checkedOutBranch, worktreeStatus } from './worktrees.js';

export interface CheckoutState {
  /** Every condition that holds (besides divergence, which needs the branches). */
  conditions: CheckoutCondition[];
  /** The checked-out branch, '' when detached. */
  branch: string;
  head: string;
}

const OPERATION_MARKERS: Array<[string, CheckoutCondition]> = [
  ['rebase-merge', 'rebasing'],
  ['rebase-apply', 'rebasing'],
  ['MERGE_HEAD', 'merging'],
  ['CHERRY_PICK_HEAD', 'cherry_picking'],
  ['REVERT_HEAD', 'reverting'],
  ['BISECT_LOG', 'bisecting'],
];

/**
 * Probes a checkout: operations in progress (through `git rev-parse --git-path`, so linked
 * worktrees, where .git is a file, work too), the branch, and local changes.
 */
export async function probeCheckout(path: string, expectedBranch: string): Promise<CheckoutState> {
  const conditions: CheckoutCondition[] = [];
  const { stdout } = await git(['rev-parse', '--path-format=absolute', ...OPERATION_MARKERS.flatMap(([name]) => ['--git-path', name])], {
    cwd: path,
  });
  const paths = stdout.trim().split('\n');
  OPERATION_MARKERS.forEach(([, condition], i) => {
    if (existsSync(paths[i]!) && !conditions.includes(condition)) conditions.push(condition);
  });
  const branch = await checkedOutBranch(path);
  if (!branch) conditions.push('detached');
  else if (expectedBranch && branch !== expectedBranch) conditions.push('other_branch');
  const dirt = await worktreeStatus(path);
  if (dirt.staged.length || dirt.tracked.length) conditions.push('dirty');
  else if (dirt.untracked.length) conditions.push('untracked_only');
  if (conditions.length === 0) conditions.push('clean');
  const head = (await git(['rev-parse', '--verify', '--quiet', 'HEAD'], { cwd: path, allowFailure: true })).stdout.trim();
  return { conditions, branch, head };
}

export async function isAncestor(repoPath: string, ancestor: string, descendant: string): Promise<boolean> {
  const result = await git(['merge-base', '--is-ancestor', ancestor, descendant], { cwd: repoPath, allowFailure: true });
  return result.code === 0;
}

export async function fastForward(worktree: string, target: string): Promise<{ ok: true } | { ok: false; message: string }> {
  const result = await git(['merge', '--ff-only', '--quiet', '--end-of-options', target], { cwd: worktree, allowFailure: true });
  return result.code === 0 ? { ok: true } : { ok: false, message: (result.stderr || result.stdout).trim() };
}

export async function switchBranch(path: string, branch: string): Promise<void> {
  await git(['checkout', '--quiet', branch, '--'], { cwd: path });
}

export async function switchDetached(path: string, commit: string): Promise<void> {
  await git(['checkout', '--quiet', '--detach', commit, '--'], { cwd: path });
}

export async function setBranch(repoPath: string, branch: string, commit: string): Promise<void> {
  await git(['branch', '--force', '--', branch, commit], { cwd: repoPath });
}

export async function deleteBranch(repoPath: string, branch: string): Promise<void> {
  await git(['branch', '-D', '--', branch], { cwd: repoPath });
}

/** Discards tracked changes and untracked (non-ignored) files: only after they are stashed. */
export async function resetToHead(path: string): Promise<void> {
  await git(['reset', '--hard', '--quiet'], { cwd: path });
  await git(['clean', '-d', '--force', '--quiet'], { cwd: path });
}
