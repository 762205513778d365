import { readdir, readlink } from 'node:fs/promises';
import { sep } from 'node:path';

export interface ProcessInside {
  pid: number;
  cwd: string;
}

const isInside = (dir: string, path: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/**
 * Live processes whose current directory is `dir` or below, found by reading
 * /proc/<pid>/cwd: the ground truth, whatever any bookkeeping says. Processes we may not
 * inspect, or that exit while we look, are skipped.
 */
export async function processesInside(dir: string): Promise<ProcessInside[]> {
  const found: ProcessInside[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const cwd = await readlink(`/proc/${name}/cwd`);
      if (isInside(dir, cwd)) found.push({ pid, cwd });
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}
