import { realpath, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { invalidArgument } from '../../common/errors.js';
import { git } from '../git/git.js';

export interface InspectedRepo {
  /** Realpath of the working tree's top directory. */
  path: string;
  defaultBranch: string;
}

const MAX_PATH = 4096;

/**
 * Checks that `path` names a git working tree and finds its top (as a realpath, so `..`
 * and symlinks cannot make two rows for one repo) and its default branch.
 */
export async function inspectRepo(path: string): Promise<InspectedRepo> {
  if (!path) throw invalidArgument('PATH_REQUIRED', 'a repo path is required');
  if (path.length > MAX_PATH || path.includes('\0')) {
    throw invalidArgument('BAD_PATH', 'the repo path is too long or contains a NUL byte');
  }
  if (!isAbsolute(path)) {
    throw invalidArgument('PATH_NOT_ABSOLUTE', `repo path "${path}" must be absolute`);
  }
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    throw invalidArgument('PATH_NOT_FOUND', `repo path ${path} does not exist`);
  }
  if (!(await stat(real)).isDirectory()) {
    throw invalidArgument('NOT_A_DIRECTORY', `repo path ${path} is not a directory`);
  }
  const inside = await git(['rev-parse', '--is-inside-work-tree', '--show-toplevel'], {
    cwd: real,
    allowFailure: true,
  });
  const [isWorkTree, top] = inside.stdout.trim().split('\n');
  if (inside.code !== 0 || isWorkTree !== 'true' || !top) {
    throw invalidArgument('NOT_A_GIT_WORKTREE', `${path} is not inside a git working tree`);
  }
  const topReal = await realpath(top);
  return { path: topReal, defaultBranch: await detectDefaultBranch(topReal) };
}

/** origin's HEAD if known, else the checked-out branch, else main/master, else `main`. */
async function detectDefaultBranch(cwd: string): Promise<string> {
  const remoteHead = await git(['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD'], {
    cwd,
    allowFailure: true,
  });
  if (remoteHead.code === 0 && remoteHead.stdout.trim()) {
    return remoteHead.stdout.trim().replace(/^origin\//, '');
  }
  const head = await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], { cwd, allowFailure: true });
  if (head.code === 0 && head.stdout.trim()) return head.stdout.trim();
  for (const candidate of ['main', 'master']) {
    const exists = await git(['rev-parse', '--verify', '--quiet', `refs/heads/${candidate}`], {
      cwd,
      allowFailure: true,
    });
    if (exists.code === 0) return candidate;
  }
  return 'main';
}
