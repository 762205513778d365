import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Grove Test',
  GIT_AUTHOR_EMAIL: 'test@grove.invalid',
  GIT_COMMITTER_NAME: 'Grove Test',
  GIT_COMMITTER_EMAIL: 'test@grove.invalid',
  LC_ALL: 'C',
};

/** Runs git for a test; throws with git's stderr on failure. */
export function gitSync(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A real repository with one commit on `branch`, files given as path -> content. */
export function makeRepo(path: string, files: Record<string, string> = { 'README.md': '# test repo\n' }, branch = 'main'): string {
  mkdirSync(path, { recursive: true });
  gitSync(path, 'init', '--quiet', `--initial-branch=${branch}`);
  gitSync(path, 'config', 'user.name', 'Grove Test');
  gitSync(path, 'config', 'user.email', 'test@grove.invalid');
  writeFiles(path, files);
  gitSync(path, 'add', '--all');
  gitSync(path, 'commit', '--quiet', '-m', 'initial');
  return path;
}

export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    const full = join(root, name);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
}

export function commitAll(cwd: string, message: string): string {
  gitSync(cwd, 'add', '--all');
  gitSync(cwd, 'commit', '--quiet', '-m', message);
  return gitSync(cwd, 'rev-parse', 'HEAD').trim();
}
