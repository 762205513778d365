import { existsSync } from 'node:fs';
import { failedPrecondition } from '../../common/errors.js';
import { GitSpawner } from './git-spawner.js';

export interface GitOptions {
  cwd: string;
  signal?: AbortSignal | undefined;
  env?: Record<string, string> | undefined;
  /** Non-zero exit is returned instead of thrown. */
  allowFailure?: boolean;
  /** Written to git's standard input (closed after). */
  input?: string | Buffer | undefined;
}

export interface GitResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** A git command that exited non-zero; `stderr` is what git said. */
export class GitError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly code: number | string,
    readonly stderr: string,
  ) {
    super(`git ${args.join(' ')} failed (${code}): ${stderr.trim() || 'no output'}`);
    this.name = 'GitError';
  }
}

const MAX_OUTPUT = 64 * 1024 * 1024;

/** Every git process of this agent is started off the event loop (see GitSpawner). */
const spawner = new GitSpawner();

/**
 * Runs git with an argument array (never a shell string), a fixed C locale so messages are
 * parseable, and no prompts: an agent has no terminal to answer them.
 */
export function git(args: readonly string[], options: GitOptions): Promise<GitResult> {
  // A directory that is gone makes spawn fail with ENOENT, which reads as "git is not
  // installed": name the missing directory instead.
  if (!existsSync(options.cwd)) {
    return Promise.reject(failedPrecondition('PATH_MISSING', `the directory ${options.cwd} does not exist (moved or deleted?)`));
  }
  const request = {
    args,
    cwd: options.cwd,
    maxBuffer: MAX_OUTPUT,
    env: { ...process.env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', ...options.env },
    input: options.input,
  };
  return spawner.run(request, options.signal).then(({ stdout, stderr, error }) => {
    if (!error) return { stdout, stderr, code: 0 };
    if (options.allowFailure && typeof error.code === 'number') return { stdout, stderr, code: error.code };
    throw new GitError(args, error.code, stderr || error.message);
  });
}
