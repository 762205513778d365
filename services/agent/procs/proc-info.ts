import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { sep } from 'node:path';

/** The kernel's id for this boot: a lock taken before a reboot is dead whatever its pid. */
export function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/**
 * A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or
 * undefined when it is gone. Together with the pid it names one process: pids are reused.
 */
export function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

export function cwdOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` names a running process. A zombie is dead: it has exited, and where nothing
 * reaps orphans (pid 1 of some containers) it would otherwise look alive forever.
 */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The identity a lock or a task records for the process it depends on. */
export interface ProcessIdentity {
  pid: number;
  pidStartTicks: number;
  bootId: string;
}

export type Liveness = { alive: true } | { alive: false; why: string };

/**
 * Whether the recorded process is still the one running: running (not a zombie), same start time
 * (not a reused pid), same boot, and, when `directory` is given, with its cwd inside it.
 */
export function probeProcess(id: ProcessIdentity, directory?: string): Liveness {
  if (id.bootId !== bootId()) return { alive: false, why: 'the machine rebooted' };
  if (id.pid <= 0 || !running(id.pid)) return { alive: false, why: `pid ${id.pid} is gone` };
  const ticks = startTicks(id.pid);
  if (ticks !== id.pidStartTicks) return { alive: false, why: `pid ${id.pid} was reused by another process` };
  if (directory) {
    const cwd = cwdOf(id.pid);
    if (!cwd || (cwd !== directory && !cwd.startsWith(directory + sep))) {
      return { alive: false, why: `pid ${id.pid} no longer works in ${directory}` };
    }
  }
  return { alive: true };
}

/**
 * Processes left in the group the recorded process led, after it died: a runner killed by
 * the OOM killer or a stray SIGKILL leaves its task's command running in its group. Linux
 * never hands out a pid that is still some group's id, so while the leader's pid is free,
 * any live (non-zombie) process in that group is one the leader started.
 */
export function orphanedGroupMembers(id: ProcessIdentity): number[] {
  if (id.pid <= 0 || id.bootId !== bootId()) return [];
  const ticks = startTicks(id.pid);
  // The leader lives, or its pid is someone else's now. A zombie leader (dead, not yet reaped)
  // is the one that died: what it left in its group is what is looked for.
  if (ticks !== undefined && (ticks !== id.pidStartTicks || running(id.pid))) return [];
  return groupMembers(id.pid);
}

/** The live (non-zombie) processes of process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  if (pgid <= 0) return [];
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] is the state, fields[2] the process group.
      if (fields[0] !== 'Z' && Number(fields[2]) === pgid) members.push(Number(name));
    } catch {
      // gone while we looked
    }
  }
  return members;
}

/**
 * A task's runner, or what is left of its process group when the runner died: the task is
 * over only when both are gone, and its lock holds until then.
 */
export function probeTaskProcesses(id: ProcessIdentity, directory?: string): Liveness {
  const runner = probeProcess(id, directory);
  if (runner.alive) return runner;
  const left = orphanedGroupMembers(id);
  return left.length > 0 ? { alive: true } : runner;
}

export function identityOf(pid: number): ProcessIdentity | undefined {
  const ticks = startTicks(pid);
  return ticks === undefined ? undefined : { pid, pidStartTicks: ticks, bootId: bootId() };
}
