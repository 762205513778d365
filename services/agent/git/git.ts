import { execFile } from 'node:child_process';

export interface GitOptions {
  cwd: string;
  signal?: AbortSignal | undefined;
  env?: Record<string, string> | undefined;
  /** Non-zero exit is returned instead of thrown. */
  allowFailure?: boolean;
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

/**
 * Runs git with an argument array (never a shell string), a fixed C locale so messages are
 * parseable, and no prompts: an agent has no terminal to answer them.
 */
export function git(args: readonly string[], options: GitOptions): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      {
        cwd: options.cwd,
        signal: options.signal,
        maxBuffer: MAX_OUTPUT,
        env: {
          ...process.env,
          LC_ALL: 'C',
          GIT_TERMINAL_PROMPT: '0',
          GIT_OPTIONAL_LOCKS: '0',
          ...options.env,
        },
      },
      (error, stdout, stderr) => {
        if (!error) return resolve({ stdout, stderr, code: 0 });
        const code = (error as NodeJS.ErrnoException & { code?: number | string }).code ?? 1;
        if (options.allowFailure && typeof code === 'number') {
          return resolve({ stdout, stderr, code });
        }
        reject(new GitError(args, code, stderr || error.message));
      },
    );
  });
}
