import { readFileSync } from 'node:fs';
/**
 * Fixture programs for tests. Each ends by itself: a killed test run must not leave
 * detached runners looping for good, so every wait is bounded (two minutes at most).
 */

/** Shell that waits until `gate` exists (relative to the cwd), for at most `seconds`. */
export const waitForFile = (gate: string, seconds = 120) =>
  `i=0; while [ ! -f ${gate} ] && [ $i -lt ${seconds * 50} ]; do sleep 0.02; i=$((i+1)); done`;

/** argv of a task that blocks until `gate` exists in its worktree, then prints `message`. */
export const gatedTask = (gate: string, message: string) => ['sh', '-c', `${waitForFile(gate)}; echo ${message}`];

/** Sends `signal` to the process group led by `pid`; refuses pid 0, which would be our own group. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`refusing to signal process group of pid ${pid}`);
  process.kill(-pid, signal);
}

/**
 * The pid a fixture wrote to `file` (`echo $! > file`), once it is all there: the shell makes
 * the file before it writes the number, so its mere existence is not enough.
 */
export function pidIn(file: string): number | undefined {
  try {
    const text = readFileSync(file, 'utf8');
    return /^\d+\n$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}
