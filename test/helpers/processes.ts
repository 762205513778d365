import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The built entry points; `make test` builds before running vitest. */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(REPO_ROOT, 'dist/clients/cli/main.js');
export const AGENT_MAIN = join(REPO_ROOT, 'dist/services/agent/main.js');
export const COORDINATOR_MAIN = join(REPO_ROOT, 'dist/services/coordinator/main.js');

export interface ServiceProcess {
  child: ChildProcess;
  address: string;
  /** The coordinator's web page (`http://HOST:PORT/`); empty for an agent. */
  httpUrl: string;
  /** Everything the process wrote to stderr so far (its pino logs). */
  stderr(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit: a crash. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

/**
 * Polls `check` until it returns a value or the deadline passes. The default deadline is
 * generous: it only matters when something is wrong, and a busy 2-core machine is not.
 */
export async function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 45_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Starts a built entry point with `--listen 127.0.0.1:0 --ready-file ...` appended and
 * resolves with its bound address once the ready file appears.
 */
/**
 * Whether `pid` is a live process. A zombie counts as dead: where pid 1 does not reap
 * orphans (a CI container), a killed process stays a zombie and still answers kill(pid, 0).
 */
export function pidAlive(pid: number): boolean {
  try {
    return !/^State:\s*Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

export interface SpawnChoices {
  /** In a process group of its own, so a test can kill the group (signalGroup) as a cgroup kill would. */
  detached?: boolean;
  /** A command the service runs under, e.g. `ip netns exec NS`. */
  wrapper?: string[];
}

export async function startService(
  main: string,
  args: string[],
  readyFile: string,
  env: Record<string, string> = {},
  choices: SpawnChoices = {},
): Promise<ServiceProcess> {
  const argv = [process.execPath, main, ...args, '--ready-file', readyFile];
  const [command, ...rest] = [...(choices.wrapper ?? []), ...argv];
  const child = spawn(command!, rest, {
    env: { ...process.env, GROVE_LOG_LEVEL: process.env.GROVE_LOG_LEVEL ?? 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: choices.detached ?? false,
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code ?? -1));
  // A process that exits before it is ready fails the start at once, not at the deadline.
  const address = await Promise.race([
    // (Polling stops once the process is gone; the race has failed by then.)
    waitFor(
      () => (exitCode !== undefined ? 'exited' : existsSync(readyFile) ? readFileSync(readyFile, 'utf8') || undefined : undefined),
      `${main} to be ready`,
    ),
    exited.then((code) => {
      throw new Error(`exited with ${code ?? 'a signal'}: ${stderr.slice(-2000)}`);
    }),
  ]).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}\n${stderr.slice(-2000)}`);
  });
  // The first line is the gRPC address; a coordinator's second is its page's URL.
  const [grpcAddress, httpUrl] = address.trim().split('\n');
  return {
    child,
    address: grpcAddress!,
    httpUrl: httpUrl ?? '',
    stderr: () => stderr,
    exited,
    async stop() {
      if (exitCode === undefined) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (exitCode === undefined) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface AgentProcessOptions {
  dataDir: string;
  readyFile?: string;
  extraArgs?: string[];
  env?: Record<string, string>;
  /** Where to listen (default 127.0.0.1:0). */
  listen?: string;
  spawn?: SpawnChoices;
}

export function startAgentProcess(options: AgentProcessOptions): Promise<ServiceProcess> {
  return startService(
    AGENT_MAIN,
    ['--listen', options.listen ?? '127.0.0.1:0', '--data-dir', options.dataDir, ...(options.extraArgs ?? [])],
    options.readyFile ?? join(options.dataDir, `ready-${Date.now()}-${Math.random()}`),
    options.env,
    options.spawn,
  );
}

export function startCoordinatorProcess(options: AgentProcessOptions): Promise<ServiceProcess> {
  return startService(
    COORDINATOR_MAIN,
    [
      '--listen',
      options.listen ?? '127.0.0.1:0',
      '--data-dir',
      options.dataDir,
      // Its page on a port of its own: the default (7422) would clash between tests.
      ...(options.extraArgs?.some((a) => a === '--http' || a === '--no-http') ? [] : ['--http', '127.0.0.1:0']),
      ...(options.extraArgs ?? []),
    ],
    options.readyFile ?? join(options.dataDir, `ready-${Date.now()}-${Math.random()}`),
    options.env,
    options.spawn,
  );
}
