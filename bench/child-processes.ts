import type { ChildProcess } from 'node:child_process';

/**
 * Every child process a bench started (coordinators, fleet workers), killed however the
 * bench ends: its own cleanup, an error, a give-up timer's `process.exit`, or SIGINT/SIGTERM.
 * SIGKILL of the bench itself cannot be caught; fleet workers exit when their IPC channel
 * closes, so only a coordinator could outlive that.
 */
const children = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** Tracks `child` until it exits; answers it. */
export function tracked<T extends ChildProcess>(child: T): T {
  hook();
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGKILLs `child` and resolves once it is gone. */
export async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

/** SIGTERMs `child`, SIGKILLs it if it is still there after `graceMs`; resolves once it is gone. */
export async function stopAndWait(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
