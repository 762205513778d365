import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GitSpawner } from '../services/agent/git/git-spawner.js';
import { git, GitError } from '../services/agent/git/git.js';
import { waitFor } from './helpers/processes.js';

const env = { ...process.env, LC_ALL: 'C' };

/** Our git children still running: /proc entries whose parent is this process. */
function gitChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(stat) ?? [];
      if (comm === 'git' && Number(rest?.split(' ')[1]) === process.pid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe('git processes started from a worker thread', () => {
  const spawners: GitSpawner[] = [];
  afterEach(async () => {
    for (const spawner of spawners.splice(0)) await spawner.close();
  });
  const spawner = () => {
    const made = new GitSpawner();
    spawners.push(made);
    return made;
  };

  it('answers output, exit codes and what went to standard input', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'grove-spawner-'));
    try {
      const runner = spawner();
      const hashed = await runner.run({ args: ['hash-object', '--stdin'], cwd: dir, env, maxBuffer: 1024, input: 'hello\n' });
      expect(hashed).toEqual({ stdout: 'ce013625030ba8dba906f756967f9e9ca394464a\n', stderr: '', error: undefined });
      const outside = await runner.run({ args: ['rev-parse', '--git-dir'], cwd: dir, env, maxBuffer: 1024 });
      expect(outside.error?.code).toBe(128);
      expect(outside.stderr).toMatch(/not a git repository/);
      // Through git(): a failure allowed is a code, one not allowed a GitError naming the command.
      expect((await git(['rev-parse', '--git-dir'], { cwd: dir, allowFailure: true })).code).toBe(128);
      await expect(git(['rev-parse', '--git-dir'], { cwd: dir })).rejects.toBeInstanceOf(GitError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('kills the process of an aborted call and reaps it', async () => {
    // hash-object --stdin waits for standard input that never ends: only an abort stops it.
    const abort = new AbortController();
    const waiting = git(['hash-object', '--stdin'], { cwd: tmpdir(), signal: abort.signal });
    const [pid] = await waitFor(() => (gitChildren().length === 1 ? gitChildren() : undefined), 'git to start');
    abort.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ABORT_ERR' });
    await waitFor(() => !gitChildren().includes(pid!), `pid ${pid} to be reaped`);
  });

  it('on close, kills and reaps its processes before the thread ends, and starts anew after', async () => {
    const runner = spawner();
    const waiting = runner.run({ args: ['hash-object', '--stdin'], cwd: tmpdir(), env, maxBuffer: 1024 });
    await waitFor(() => gitChildren().length === 1, 'git to start');
    await runner.close();
    expect((await waiting).error?.code).toBe('ABORT_ERR');
    // Reaped by the thread that started it, before it ended: no zombie is left behind.
    expect(gitChildren()).toEqual([]);
    expect((await runner.run({ args: ['--version'], cwd: tmpdir(), env, maxBuffer: 1024 })).stdout).toMatch(/^git version/);
  });

  it('keeps no process alive once its calls are answered', async () => {
    // A script that runs one git command through the built module must end by itself.
    const module = join(process.cwd(), 'dist/services/agent/git/git.js');
    const script = `const { git } = await import(${JSON.stringify(module)}); process.stdout.write((await git(['--version'], { cwd: '/' })).stdout);`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    expect(out).toMatch(/^git version/);
  });
});
