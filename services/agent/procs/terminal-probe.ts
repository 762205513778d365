import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { arch } from 'node:os';

// System call numbers of a blocking read, and of the waits a program makes on its
// descriptors (an event loop waiting for a keypress sits in one of these, not in read).
const SYSCALLS: Record<string, { read: number[]; wait: number[] }> = {
  x64: { read: [0, 17, 19], wait: [7, 23, 232, 270, 271, 281] }, // read pread64 readv | poll select epoll_wait pselect6 ppoll epoll_pwait
  arm64: { read: [63, 65, 67], wait: [72, 73, 22] }, // read readv pread64 | pselect6 ppoll epoll_pwait
};

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * Whether the terminal's foreground process group sleeps waiting on the terminal: a member
 * asleep (S) in a read of the terminal, or in a poll-style wait while holding the terminal as
 * its input. `sessionLeader` is the process the terminal was started with.
 */
export function foregroundWaitsOnTerminal(sessionLeader: number): boolean {
  const table = SYSCALLS[arch()];
  const leader = statFields(sessionLeader);
  if (!table || !leader) return false;
  const foreground = Number(leader[5]); // tpgid: the terminal's foreground process group
  if (!(foreground > 0)) return false;
  let terminal: string;
  try {
    terminal = readlinkSync(`/proc/${sessionLeader}/fd/0`);
  } catch {
    return false;
  }
  let names: string[];
  try {
    names = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return false;
  }
  for (const name of names) {
    const fields = statFields(Number(name));
    if (!fields || Number(fields[2]) !== foreground) continue;
    if (fields[0] !== 'S') return false; // running or in another wait: busy, not waiting on us
    try {
      const [number, firstArg] = readFileSync(`/proc/${name}/syscall`, 'utf8').trim().split(' ');
      const call = Number(number);
      const onTerminal = (fd: number) => readlinkSync(`/proc/${name}/fd/${fd}`) === terminal;
      if (table.read.includes(call) && onTerminal(Number(firstArg))) return true;
      if (table.wait.includes(call) && onTerminal(0)) return true;
    } catch {
      // gone, or not ours to look at
    }
  }
  return false;
}
