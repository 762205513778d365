import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAgent, type RunningAgent } from '../services/agent/agent.js';
import { createLogger } from '../services/common/logging.js';

export const execFileAsync = promisify(execFile);

/** Polls `check` until it answers a value; fails after `timeoutMs` naming `what`. */
export async function until<T>(check: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'b@bench.invalid',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'b@bench.invalid',
};

export function gitSync(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A real repository of `files` small files in nested directories, one commit on main. */
export function generateRepo(path: string, files: number): string {
  mkdirSync(path, { recursive: true });
  gitSync(path, 'init', '--quiet', '--initial-branch=main');
  for (let i = 0; i < files; i++) {
    const dir = join(path, `d${i % 50}`, `e${i % 7}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}.txt`), `file ${i}\n`);
  }
  gitSync(path, 'add', '--all');
  gitSync(path, 'commit', '--quiet', '-m', 'generated');
  return path;
}

export interface BenchWorkspace {
  dir: string;
  agent: RunningAgent;
  close(): Promise<void>;
}

/** A temp dir with an in-process agent (silent logs) serving on loopback. */
export async function benchWorkspace(agentOptions: { jobConcurrency?: number } = {}): Promise<BenchWorkspace> {
  const dir = mkdtempSync(join(tmpdir(), 'grove-bench-'));
  const agent = await startAgent({
    listen: '127.0.0.1:0',
    dataDir: join(dir, 'agent'),
    worktreeRoot: join(dir, 'worktrees'),
    log: createLogger({ level: 'silent' }),
    ...agentOptions,
  });
  return {
    dir,
    agent,
    async close() {
      await agent.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
