import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { copyFile, lstat, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { resourceExhausted } from '../../common/errors.js';
import { untrackedMatching } from '../git/worktrees.js';
import type { CopiedFile, RepoRow } from '../store/entities.js';

// A copy glob is for a few configuration files (.env), not for a dependency tree.
const MAX_COPIED_FILES = 1000;
const MAX_COPIED_BYTES = 256 * 1024 ** 2;

/** How long a teardown command may run before its process group is killed. */
export const TEARDOWN_TIMEOUT_MS = 120_000;
const OUTPUT_KEPT = 2048;

/** A repo's setup command for one new worktree. */
export interface SetupStep {
  repoId: string;
  cwd: string;
  command: string;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Copies the repo's `copy` globs' untracked files (ignored or not) from its main checkout
 * into a new worktree, each at the same place. Only regular files; a path the worktree
 * already has (its branch tracks it) is left as the branch has it. What was copied is
 * answered with each file's sha256, so teardown can tell an untouched copy from work.
 */
export async function copyFromCheckout(repo: RepoRow, worktreePath: string): Promise<CopiedFile[]> {
  const candidates = await untrackedMatching(repo.path, repo.copyGlobs);
  if (candidates.length > MAX_COPIED_FILES) {
    throw resourceExhausted(
      'COPY_TOO_LARGE',
      `repo "${repo.name}"'s copy globs match ${candidates.length} files; at most ${MAX_COPIED_FILES}`,
    );
  }
  const copied: CopiedFile[] = [];
  let bytes = 0;
  for (const path of candidates) {
    const source = join(repo.path, path);
    const info = await lstat(source);
    if (!info.isFile()) continue;
    bytes += info.size;
    if (bytes > MAX_COPIED_BYTES) {
      throw resourceExhausted('COPY_TOO_LARGE', `repo "${repo.name}"'s copy globs match over ${MAX_COPIED_BYTES / 1024 ** 2} MiB`);
    }
    const target = join(worktreePath, path);
    await mkdir(dirname(target), { recursive: true });
    try {
      await copyFile(source, target, constants.COPYFILE_EXCL);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    copied.push({ path, sha256: await sha256Of(target) });
  }
  return copied;
}

/** Of `paths` (relative to the worktree), those that are copies still as they were copied. */
export async function unchangedCopies(worktreePath: string, copied: readonly CopiedFile[], paths: readonly string[]): Promise<Set<string>> {
  const bySha = new Map(copied.map((c) => [c.path, c.sha256]));
  const unchanged = new Set<string>();
  for (const path of paths) {
    const sha = bySha.get(path);
    if (sha && (await sha256Of(join(worktreePath, path)).catch(() => '')) === sha) unchanged.add(path);
  }
  return unchanged;
}

/** Deletes the copies still as they were copied (a kill's removal, which git checks). */
export async function removeUnchangedCopies(worktreePath: string, copied: readonly CopiedFile[]): Promise<void> {
  const unchanged = await unchangedCopies(
    worktreePath,
    copied,
    copied.map((c) => c.path),
  );
  for (const path of unchanged) await rm(join(worktreePath, path), { force: true });
}

/**
 * Runs a repo's teardown command in its worktree, in a process group of its own that is
 * killed whole if it outlasts the timeout. Answers '' on success, else why it failed with
 * the end of its output: teardown failing is recorded, it never stops a removal.
 */
export function runTeardown(command: string, cwd: string, env: Record<string, string>, timeoutMs = TEARDOWN_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn('/bin/sh', ['-c', command], {
      cwd,
      env: { ...process.env, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEPT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    const tail = () => (output.trim() ? `: ${output.trim().slice(-500)}` : '');
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve(`teardown could not start: ${err.message}`);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) resolve(`teardown killed after ${timeoutMs / 1000} s${tail()}`);
      else if (code === 0) resolve('');
      else resolve(`teardown ${signal ? `killed by ${signal}` : `exited with ${code}`}${tail()}`);
    });
  });
}
