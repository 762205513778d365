import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { git } from './git.js';

const knownRemotes = new Map<string, { stamp: string; remotes: string[] }>();

/**
 * The repo's remotes as `git remote` lists them. Every fetch job asks, so the list is kept
 * and asked of git again only when a config file that can define remotes changed (the repo's
 * own, the user's, the system's: git rewrites a config file by renaming a new one over it, so
 * its inode changes with every edit). A remote defined in an included file is seen once one
 * of those changes too. A linked worktree or a bare repo (no `.git/config` here) always asks.
 */
export async function remotes(repoPath: string): Promise<string[]> {
  const stamp = configStamp(repoPath);
  const known = knownRemotes.get(repoPath);
  if (stamp && known?.stamp === stamp) return [...known.remotes];
  const { stdout } = await git(['remote'], { cwd: repoPath });
  const listed = stdout.split('\n').filter(Boolean);
  if (stamp) knownRemotes.set(repoPath, { stamp, remotes: listed });
  return [...listed];
}

function configStamp(repoPath: string): string | undefined {
  const xdg = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  const files = [join(repoPath, '.git', 'config'), join(homedir(), '.gitconfig'), join(xdg, 'git', 'config'), '/etc/gitconfig'];
  const stamps = files.map((file) => {
    const stat = statSync(file, { throwIfNoEntry: false });
    return stat?.isFile() ? `${stat.ino}:${stat.size}:${stat.mtimeMs}` : '-';
  });
  return stamps[0] === '-' ? undefined : stamps.join('|');
}

export async function fetchPrune(repoPath: string, remote: string, signal: AbortSignal): Promise<string> {
  const { stderr } = await git(['fetch', '--prune', '--no-write-fetch-head', '--', remote], { cwd: repoPath, signal });
  return stderr.trim();
}

/** `origin/main` style upstream of a branch, or ''. */
export async function upstreamOf(repoPath: string, branch: string): Promise<string> {
  const result = await git(['rev-parse', '--abbrev-ref', '--symbolic-full-name', '--end-of-options', `${branch}@{upstream}`], {
    cwd: repoPath,
    allowFailure: true,
  });
  return result.code === 0 ? result.stdout.trim() : '';
}

export async function createTrackingBranch(repoPath: string, branch: string, remoteRef: string): Promise<void> {
  await git(['branch', '--track', '--', branch, remoteRef], { cwd: repoPath });
}

/** Whether a rebase is stopped in this worktree (found through --git-path: linked worktrees work). */
export async function rebaseInProgress(worktree: string): Promise<boolean> {
  for (const name of ['rebase-merge', 'rebase-apply']) {
    const { stdout } = await git(['rev-parse', '--path-format=absolute', '--git-path', name], { cwd: worktree });
    if (existsSync(stdout.trim())) return true;
  }
  return false;
}

/** The branch a stopped rebase in this worktree is rebasing, or undefined when none is. */
export async function rebasingBranch(worktree: string): Promise<string | undefined> {
  for (const name of ['rebase-merge/head-name', 'rebase-apply/head-name']) {
    const { stdout } = await git(['rev-parse', '--path-format=absolute', '--git-path', name], { cwd: worktree });
    const headName = await readFile(stdout.trim(), 'utf8').catch(() => undefined);
    if (headName !== undefined) return headName.trim().replace(/^refs\/heads\//, '');
  }
  return undefined;
}

export async function abortRebase(worktree: string): Promise<void> {
  await git(['rebase', '--abort'], { cwd: worktree, allowFailure: true });
}

export type RebaseResult = { ok: true; head: string } | { ok: false; conflicts: string[]; message: string };

/**
 * Rebases the branch checked out in `worktree` onto `onto`. On a conflict the rebase is
 * aborted, leaving the worktree exactly as it was, and the conflicting paths are returned.
 * `beforeAbort` runs while the conflict is still in place (a test crash point).
 */
export async function rebaseOnto(worktree: string, onto: string, signal: AbortSignal, beforeAbort?: () => void): Promise<RebaseResult> {
  // Rebase rewrites commits and needs a committer: fall back to Grove only where none is configured.
  const identity = await git(['config', '--get', 'user.email'], { cwd: worktree, allowFailure: true });
  const env = {
    GIT_EDITOR: 'true',
    GIT_SEQUENCE_EDITOR: 'true',
    ...(identity.code === 0 ? {} : { GIT_COMMITTER_NAME: 'Grove', GIT_COMMITTER_EMAIL: 'grove@localhost' }),
  };
  const result = await git(['rebase', '--no-autostash', '--end-of-options', onto], { cwd: worktree, signal, env, allowFailure: true });
  if (result.code === 0) {
    const head = (await git(['rev-parse', 'HEAD'], { cwd: worktree })).stdout.trim();
    return { ok: true, head };
  }
  const conflicts = (await git(['diff', '--name-only', '--diff-filter=U', '-z'], { cwd: worktree, allowFailure: true })).stdout
    .split('\0')
    .filter(Boolean);
  beforeAbort?.();
  if (await rebaseInProgress(worktree)) await abortRebase(worktree);
  return { ok: false, conflicts, message: (result.stderr || result.stdout).trim().split('\n').slice(0, 5).join('\n') };
}
