import { existsSync } from 'node:fs';
import { copyFile, lstat, mkdtemp, readdir, readFile, readlink, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { parsePorcelainStatus, type Dirtiness } from '../domain/dirtiness.js';
import { git } from './git.js';

export interface WorktreeEntry {
  path: string;
  head: string;
  /** Short branch name, or '' when detached. */
  branch: string;
  bare: boolean;
  /** Why git considers the entry prunable (its directory is gone), or ''. */
  prunable: string;
}

/** Parses `git worktree list --porcelain -z`. */
export async function listWorktrees(repoPath: string): Promise<WorktreeEntry[]> {
  const { stdout } = await git(['worktree', 'list', '--porcelain', '-z'], { cwd: repoPath });
  const entries: WorktreeEntry[] = [];
  let current: WorktreeEntry | undefined;
  for (const field of stdout.split('\0')) {
    if (field === '') {
      if (current) entries.push(current);
      current = undefined;
      continue;
    }
    const space = field.indexOf(' ');
    const key = space < 0 ? field : field.slice(0, space);
    const value = space < 0 ? '' : field.slice(space + 1);
    if (key === 'worktree') current = { path: value, head: '', branch: '', bare: false, prunable: '' };
    else if (!current) continue;
    else if (key === 'HEAD') current.head = value;
    else if (key === 'branch') current.branch = value.replace(/^refs\/heads\//, '');
    else if (key === 'bare') current.bare = true;
    else if (key === 'prunable') current.prunable = value || 'directory is gone';
  }
  if (current) entries.push(current);
  return entries;
}

export async function resolveCommit(repoPath: string, rev: string): Promise<string | undefined> {
  const result = await git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], {
    cwd: repoPath,
    allowFailure: true,
  });
  return result.code === 0 ? result.stdout.trim() : undefined;
}

export const branchCommit = (repoPath: string, branch: string) => resolveCommit(repoPath, `refs/heads/${branch}`);

/** Adds a worktree at `path`: on a new branch from `startPoint`, or on existing `branch`. */
export async function addWorktree(repoPath: string, path: string, branch: string, startPoint?: string): Promise<void> {
  const args = startPoint
    ? ['worktree', 'add', '--quiet', '-b', branch, '--', path, startPoint]
    : ['worktree', 'add', '--quiet', '--', path, branch];
  await git(args, { cwd: repoPath });
}

/** `git worktree remove`; with `force`, even when dirty or locked (callers preserve first). */
export async function removeWorktree(repoPath: string, path: string, force: boolean): Promise<void> {
  const args = force ? ['worktree', 'remove', '--force', '--force', '--', path] : ['worktree', 'remove', '--', path];
  await git(args, { cwd: repoPath });
}

/**
 * Forgets git's record of one worktree whose directory is gone: `git worktree prune` for a
 * single path. A bare prune would also drop the user's own worktrees that are merely
 * unreachable right now (an unmounted disk), losing their index and any detached commits.
 */
export async function pruneWorktreeEntry(repoPath: string, worktreePath: string): Promise<void> {
  if (existsSync(worktreePath)) return;
  const common = (await git(['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: repoPath })).stdout.trim();
  const admin = join(common, 'worktrees');
  const entries = await readdir(admin).catch(() => [] as string[]);
  for (const name of entries) {
    const gitdir = await readFile(join(admin, name, 'gitdir'), 'utf8').catch(() => '');
    if (resolve(gitdir.trim()) === join(worktreePath, '.git')) await rm(join(admin, name), { recursive: true, force: true });
  }
}

export async function repairWorktree(repoPath: string, path: string): Promise<void> {
  await git(['worktree', 'repair', '--', path], { cwd: repoPath });
}

/**
 * The worktree's changes. Git is kept from looking above `path` (GIT_CEILING_DIRECTORIES):
 * a worktree that lost its `.git` file must fail here, not report the status of whatever
 * repository happens to contain it.
 */
export async function worktreeStatus(path: string): Promise<Dirtiness> {
  const { stdout } = await git([...TRUST_NO_CACHE, 'status', '--porcelain=v1', '-z', '--untracked-files=all', '--ignore-submodules=none'], {
    cwd: path,
    env: confined(path),
  });
  return parsePorcelainStatus(stdout);
}

// Status must look at the files themselves: a file-system monitor or the untracked cache
// could answer from what they last saw.
const TRUST_NO_CACHE = ['-c', 'core.fsmonitor=false', '-c', 'core.untrackedCache=false'];
const confined = (path: string) => ({ GIT_CEILING_DIRECTORIES: dirname(path) });

/**
 * Tracked files whose index entry is flagged assume-unchanged or skip-worktree and whose
 * content on disk is not the indexed one. `git status` trusts the flags and never looks,
 * so these edits are invisible to it. A skip-worktree file absent from disk is sparse, not
 * deleted; an assume-unchanged file absent from disk was deleted.
 */
export async function hiddenChanges(path: string): Promise<string[]> {
  const { stdout } = await git(['ls-files', '-v', '-z'], { cwd: path, env: confined(path) });
  const flagged = new Map<string, { skipWorktree: boolean }>();
  for (const entry of stdout.split('\0')) {
    if (entry.length < 3) continue;
    const tag = entry[0]!;
    const file = entry.slice(2);
    if (tag === 'S' || tag === 's') flagged.set(file, { skipWorktree: true });
    else if (tag >= 'a' && tag <= 'z') flagged.set(file, { skipWorktree: false });
  }
  if (flagged.size === 0) return [];
  const indexed = new Map<string, { mode: string; blob: string }>();
  const staged = await git(['ls-files', '-s', '-z'], { cwd: path, env: confined(path) });
  for (const entry of staged.stdout.split('\0')) {
    const tab = entry.indexOf('\t');
    if (tab < 0) continue;
    const [mode, blob] = entry.slice(0, tab).split(' ');
    const file = entry.slice(tab + 1);
    if (flagged.has(file)) indexed.set(file, { mode: mode!, blob: blob! });
  }
  const changed: string[] = [];
  const regular: string[] = [];
  for (const [file, { skipWorktree }] of flagged) {
    const info = await lstat(join(path, file)).catch(() => undefined);
    const entry = indexed.get(file);
    if (!info) {
      if (!skipWorktree) changed.push(file);
      continue;
    }
    if (!entry || entry.mode === '160000') continue;
    if (info.isSymbolicLink() || entry.mode === '120000') {
      const target = info.isSymbolicLink() ? await readlink(join(path, file)) : undefined;
      const hashed =
        target === undefined
          ? ''
          : (await git(['hash-object', '--stdin'], { cwd: path, env: confined(path), input: target })).stdout.trim();
      if (hashed !== entry.blob) changed.push(file);
    } else if (file.includes('\n')) {
      changed.push(file); // --stdin-paths cannot name it; counting it as changed is the safe side
    } else {
      regular.push(file);
    }
  }
  if (regular.length > 0) {
    // Hashed as `git add` would (with the path's filters), so only real edits differ.
    const hashed = (
      await git(['hash-object', '--stdin-paths'], { cwd: path, env: confined(path), input: regular.join('\n') + '\n' })
    ).stdout
      .trim()
      .split('\n');
    regular.forEach((file, i) => {
      if (hashed[i] !== indexed.get(file)?.blob) changed.push(file);
    });
  }
  return changed.sort();
}

/** Ignored paths in the worktree, a wholly ignored directory as one `dir/` entry. */
export async function ignoredPaths(path: string): Promise<string[]> {
  const { stdout } = await git(['ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory'], {
    cwd: path,
    env: confined(path),
  });
  return stdout.split('\0').filter(Boolean).sort();
}

/** Ignored files (each one, also inside ignored directories) that match any of `globs`. */
export async function ignoredMatching(path: string, globs: readonly string[]): Promise<string[]> {
  if (globs.length === 0) return [];
  const { stdout } = await git(
    ['ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--', ...globs.map((g) => `:(glob)${g}`)],
    { cwd: path, env: confined(path) },
  );
  return stdout.split('\0').filter(Boolean).sort();
}

/** Untracked files (ignored or not, each one) of a checkout that match any of `globs`. */
export async function untrackedMatching(path: string, globs: readonly string[]): Promise<string[]> {
  if (globs.length === 0) return [];
  const { stdout } = await git(['ls-files', '-z', '--others', '--', ...globs.map((g) => `:(glob)${g}`)], {
    cwd: path,
    env: confined(path),
  });
  return stdout.split('\0').filter(Boolean).sort();
}

/**
 * The branch checked out at `path`, '' when HEAD is detached. Read from the HEAD file
 * itself when it can be (start-up probes every worktree: a git process each would cost
 * seconds with a thousand sessions); git answers otherwise.
 */
export async function checkedOutBranch(path: string): Promise<string> {
  try {
    const dotGit = join(path, '.git');
    const gitDir = (await stat(dotGit)).isDirectory()
      ? dotGit
      : resolve(path, (await readFile(dotGit, 'utf8')).replace(/^gitdir: /, '').trim());
    const head = (await readFile(join(gitDir, 'HEAD'), 'utf8')).trim();
    if (head.startsWith('ref: refs/heads/')) return head.slice('ref: refs/heads/'.length);
    if (/^[0-9a-f]{40,64}$/.test(head)) return '';
  } catch {
    // fall through to git
  }
  const result = await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], { cwd: path, allowFailure: true });
  return result.code === 0 ? result.stdout.trim() : '';
}

/** Deletes a branch only if it still points at `expected` (we made it and nobody moved it). */
export async function deleteBranchIfAt(repoPath: string, branch: string, expected: string): Promise<void> {
  await git(['update-ref', '-d', `refs/heads/${branch}`, expected], { cwd: repoPath, allowFailure: true });
}

export async function listRefs(repoPath: string, prefix: string): Promise<Array<{ ref: string; commit: string }>> {
  const { stdout } = await git(['for-each-ref', '--format=%(refname)%00%(objectname)', '--', prefix], { cwd: repoPath });
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [ref, commit] = line.split('\0');
      return { ref: ref!, commit: commit! };
    });
}

export async function deleteRef(repoPath: string, ref: string): Promise<void> {
  await git(['update-ref', '-d', '--', ref], { cwd: repoPath });
}

// Preservation commits are made by Grove, whatever the user's identity config says.
const GROVE_IDENTITY = {
  GIT_AUTHOR_NAME: 'Grove',
  GIT_AUTHOR_EMAIL: 'grove@localhost',
  GIT_COMMITTER_NAME: 'Grove',
  GIT_COMMITTER_EMAIL: 'grove@localhost',
};

async function withTempIndex<T>(work: (indexFile: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'grove-index-'));
  try {
    return await work(join(dir, 'index'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Records the whole state of a worktree in a commit without touching its index or files,
 * like `git stash` but including untracked (non-ignored) files: the commit's tree is the
 * working tree, its first parent HEAD, its second parent a commit of the index, and a third
 * parent the `previous` preservation when there is one, so that an earlier preserved state
 * stays reachable from the ref instead of being overwritten. Points `ref` at it and returns
 * the commit.
 *
 * The working-tree snapshot starts from HEAD's tree, not from a copy of the index: flags in
 * the index (assume-unchanged, unmerged entries) must not hide what is on disk.
 */
export async function preserveWorktree(
  worktreePath: string,
  ref: string,
  message: string,
  previous?: string,
  ignoredToKeep: readonly string[] = [],
): Promise<string> {
  const env = (indexFile: string) => ({ ...GROVE_IDENTITY, GIT_INDEX_FILE: indexFile });
  const head = (await resolveCommit(worktreePath, 'HEAD'))!;
  const realIndex = (await git(['rev-parse', '--path-format=absolute', '--git-path', 'index'], { cwd: worktreePath })).stdout.trim();
  return withTempIndex(async (indexFile) => {
    // The index as it is; an index git cannot write a tree of (mid-merge) is recorded as HEAD.
    await copyFile(realIndex, indexFile);
    const written = await git(['write-tree'], { cwd: worktreePath, env: env(indexFile), allowFailure: true });
    const indexTree = written.code === 0 ? written.stdout.trim() : `${head}^{tree}`;
    const indexCommit = (
      await git(['commit-tree', indexTree, '-p', head, '-m', `grove: index of ${message}`], { cwd: worktreePath, env: env(indexFile) })
    ).stdout.trim();
    await git(['read-tree', head], { cwd: worktreePath, env: env(indexFile) });
    await git(['add', '--all', '--sparse', '--', '.'], { cwd: worktreePath, env: env(indexFile) });
    if (ignoredToKeep.length > 0) {
      // Ignored files the repo declares to be work: added by name, past the ignore rules.
      await git(['add', '--force', '--sparse', '--pathspec-from-file=-', '--pathspec-file-nul'], {
        cwd: worktreePath,
        env: env(indexFile),
        input: ignoredToKeep.map((p) => `:(literal)${p}`).join('\0'),
      });
    }
    const workTree = (await git(['write-tree'], { cwd: worktreePath, env: env(indexFile) })).stdout.trim();
    const earlier = previous ? await resolveCommit(worktreePath, previous) : undefined;
    const parents = ['-p', head, '-p', indexCommit, ...(earlier ? ['-p', earlier] : [])];
    const commit = (
      await git(['commit-tree', workTree, ...parents, '-m', `grove: ${message}`], { cwd: worktreePath, env: env(indexFile) })
    ).stdout.trim();
    // The expected old value makes a concurrent preservation fail instead of overwriting.
    const current = (await resolveCommit(worktreePath, ref)) ?? '';
    await git(['update-ref', '-m', `grove: ${message}`, '--', ref, commit, current], { cwd: worktreePath });
    return commit;
  });
}

/**
 * Paths inside a worktree that hold git repositories of their own (submodules, or repos
 * created inside it): their history lives in their own .git, which no preserved commit can
 * hold, so a worktree that has any must never be force-removed.
 */
export async function nestedRepositories(worktreePath: string, untracked: readonly string[]): Promise<string[]> {
  const { stdout } = await git(['ls-files', '--stage', '-z'], { cwd: worktreePath, env: confined(worktreePath) });
  const submodules = stdout
    .split('\0')
    .filter((entry) => entry.startsWith('160000 '))
    .map((entry) => entry.slice(entry.indexOf('\t') + 1));
  // With --untracked-files=all git lists plain untracked directories file by file; an entry
  // that stays a directory ("dir/") is a repository git will not look into.
  return [...submodules, ...untracked.filter((path) => path.endsWith('/'))];
}

/** Commits reachable from a detached HEAD and from no branch, tag or remote ref. */
export async function unreferencedCommits(worktreePath: string): Promise<number> {
  const { stdout } = await git(['rev-list', '--count', 'HEAD', '--not', '--branches', '--tags', '--remotes'], { cwd: worktreePath });
  return Number(stdout.trim()) || 0;
}

/**
 * Puts a preserved state back into a clean worktree whose HEAD is the commit it was
 * preserved on: the working tree (tracked and untracked files, deletions too) from the
 * preserved commit, the index from its second parent.
 */
export async function applyPreservedState(worktreePath: string, commit: string): Promise<void> {
  const indexCommit = `${commit}^2`;
  const deleted = (
    await git(['diff', '--name-only', '-z', '--no-renames', '--diff-filter=D', 'HEAD', commit], { cwd: worktreePath })
  ).stdout
    .split('\0')
    .filter(Boolean);
  // Deletions first, while the tree is still HEAD's, and only inside the worktree: a path
  // whose parent resolves elsewhere (through a symlink) is never touched.
  const root = await realpath(worktreePath);
  for (const path of deleted) {
    const target = join(worktreePath, path);
    const parent = await realpath(dirname(target)).catch(() => undefined);
    if (parent && (parent === root || parent.startsWith(root + sep))) await rm(target, { force: true });
  }
  await withTempIndex(async (indexFile) => {
    const env = { GIT_INDEX_FILE: indexFile };
    await git(['read-tree', commit], { cwd: worktreePath, env });
    await git(['checkout-index', '--all', '--force'], { cwd: worktreePath, env });
  });
  await git(['read-tree', indexCommit], { cwd: worktreePath });
  await git(['update-index', '-q', '--refresh'], { cwd: worktreePath, allowFailure: true });
}
