import { execFile, spawn } from 'node:child_process';
import { expect } from 'vitest';
import { CLI } from './processes.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// The developer's own targets must not leak into the tests; `extra` may set them on purpose.
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (!extra.GROVE_AGENT) delete env.GROVE_AGENT;
  if (!extra.GROVE_COORDINATOR) delete env.GROVE_COORDINATOR;
  return env;
}

/** Runs the built CLI; never rejects: the exit status is part of what is tested. */
export function grove(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: options.cwd, env: cliEnv(options.env), timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts the built CLI and lets the test read its stdout while it runs. */
export function groveLive(args: string[]): { stdout: () => string; done: Promise<Run> } {
  const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 90_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return { stdout: () => stdout, done };
}

/** A successful run's one line of --json, parsed. */
export function json<T = Record<string, unknown>>(run: Run): T {
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const lines = run.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as T;
}
