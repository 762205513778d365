import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { git, GitError } from './git.js';

/** Git's empty tree: what a branch with no common ancestor is compared against. */
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

export type ChangeStatus = 'added' | 'modified' | 'deleted' | 'renamed' | 'type_changed' | 'untracked';

export interface ChangedFile {
  path: string;
  oldPath: string;
  status: ChangeStatus;
  additions: number;
  deletions: number;
  binary: boolean;
  uncommitted: boolean;
}

export interface WorktreeDiff {
  mergeBase: string;
  commits: Array<{ sha: string; subject: string }>;
  files: ChangedFile[];
  filesTotal: number;
  /** Undefined when not asked for or over the cap. */
  patch: string | undefined;
  patchBytes: number;
}

export interface DiffLimits {
  withPatch: boolean;
  patchCapBytes: number;
  maxFiles: number;
}

/** The commit `HEAD` and `base` share, or git's empty tree when they share none. */
export async function mergeBaseWith(cwd: string, base: string): Promise<string> {
  const found = await git(['merge-base', 'HEAD', base], { cwd, allowFailure: true });
  return found.code === 0 ? found.stdout.trim() : EMPTY_TREE;
}

/**
 * Everything the worktree holds that `base` does not: commits since the merge-base, and the
 * working tree itself (staged, unstaged and untracked). Nothing in the repository is written:
 * untracked files are seen through a copy of the index in a temp dir, marked intent-to-add
 * there (which stores no objects), so `git diff` shows them as the new files they are.
 */
export async function diffWorktree(cwd: string, base: string, limits: DiffLimits): Promise<WorktreeDiff> {
  const mergeBase = await mergeBaseWith(cwd, base);
  const scratch = await mkdtemp(join(tmpdir(), 'grove-diff-'));
  try {
    const indexPath = (await git(['rev-parse', '--git-path', 'index'], { cwd })).stdout.trim();
    const index = join(scratch, 'index');
    await copyFile(isAbsolute(indexPath) ? indexPath : join(cwd, indexPath), index);
    const env = { GIT_INDEX_FILE: index };
    const untracked = splitNul((await git(['ls-files', '--others', '--exclude-standard', '-z'], { cwd })).stdout);
    if (untracked.length > 0) {
      // File names, not patterns: a file called `*.md` or `:(top)x` must mean itself.
      await git(['add', '--intent-to-add', '--pathspec-from-file=-', '--pathspec-file-nul'], {
        cwd,
        env: { ...env, GIT_LITERAL_PATHSPECS: '1' },
        input: untracked.join('\0'),
      });
    }
    const diffArgs = ['diff', '-M', '--no-ext-diff', '--no-textconv', '--no-color'];
    const [numstat, nameStatus, uncommittedPaths, log] = await Promise.all([
      git([...diffArgs, '--numstat', '-z', mergeBase, '--'], { cwd, env }),
      git([...diffArgs, '--name-status', '-z', mergeBase, '--'], { cwd, env }),
      git([...diffArgs, '--name-only', '-z', 'HEAD', '--'], { cwd, env }),
      git(['log', '--format=%H%x00%s%x00', mergeBase === EMPTY_TREE ? 'HEAD' : `${mergeBase}..HEAD`, '--'], { cwd }),
    ]);
    const untrackedSet = new Set(untracked);
    const uncommitted = new Set(splitNul(uncommittedPaths.stdout));
    const stats = parseNumstat(numstat.stdout);
    const all = parseNameStatus(nameStatus.stdout).map((entry): ChangedFile => {
      const stat = stats.get(entry.path) ?? { additions: 0, deletions: 0, binary: false };
      return {
        ...entry,
        ...stat,
        status: untrackedSet.has(entry.path) ? 'untracked' : entry.status,
        uncommitted: uncommitted.has(entry.path) || untrackedSet.has(entry.path),
      };
    });
    const commitFields = splitNul(log.stdout.replace(/\n/g, ''));
    const commits: WorktreeDiff['commits'] = [];
    for (let i = 0; i + 1 < commitFields.length; i += 2) commits.push({ sha: commitFields[i]!, subject: commitFields[i + 1]! });
    let patch: string | undefined;
    let patchBytes = 0;
    if (limits.withPatch) {
      const capped = await cappedOutput('git', [...diffArgs, mergeBase, '--'], { cwd, env }, limits.patchCapBytes);
      patchBytes = capped.bytes;
      patch = capped.complete ? capped.text : undefined;
    }
    return { mergeBase, commits, files: all.slice(0, limits.maxFiles), filesTotal: all.length, patch, patchBytes };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function splitNul(text: string): string[] {
  return text.split('\0').filter((part) => part.length > 0);
}

const STATUS: Record<string, ChangeStatus> = { A: 'added', M: 'modified', D: 'deleted', R: 'renamed', C: 'added', T: 'type_changed' };

function parseNameStatus(text: string): Array<{ path: string; oldPath: string; status: ChangeStatus }> {
  const parts = text.split('\0');
  const entries: Array<{ path: string; oldPath: string; status: ChangeStatus }> = [];
  for (let i = 0; i < parts.length && parts[i];) {
    const code = parts[i]![0]!;
    if (code === 'R' || code === 'C') {
      entries.push({ status: STATUS[code]!, oldPath: parts[i + 1]!, path: parts[i + 2]! });
      i += 3;
    } else {
      entries.push({ status: STATUS[code] ?? 'modified', oldPath: '', path: parts[i + 1]! });
      i += 2;
    }
  }
  return entries;
}

function parseNumstat(text: string): Map<string, { additions: number; deletions: number; binary: boolean }> {
  const stats = new Map<string, { additions: number; deletions: number; binary: boolean }>();
  const parts = text.split('\0');
  for (let i = 0; i < parts.length && parts[i];) {
    const [added, deleted, path] = parts[i]!.split('\t') as [string, string, string];
    const binary = added === '-';
    const stat = { additions: binary ? 0 : Number(added), deletions: binary ? 0 : Number(deleted), binary };
    if (path === '') {
      // A rename: "added\tdeleted\t" then the old and the new path as fields of their own.
      stats.set(parts[i + 2]!, stat);
      i += 3;
    } else {
      stats.set(path, stat);
      i += 1;
    }
  }
  return stats;
}

/** Runs a command, keeping at most `cap` bytes of its output: more is counted, not kept. */
function cappedOutput(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string> },
  cap: number,
): Promise<{ text: string; bytes: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const kept: Buffer[] = [];
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= cap) kept.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new GitError(args, code ?? 1, stderr));
      resolve({ text: Buffer.concat(kept).toString('utf8'), bytes, complete: bytes <= cap });
    });
  });
}
