import { statfsSync } from 'node:fs';
import { resourceExhausted } from '../../common/errors.js';

/** Bytes an unprivileged writer can still use on the file system holding `path`. */
export function freeBytes(path: string): number {
  const stats = statfsSync(path);
  return Number(stats.bavail) * Number(stats.bsize);
}

/** Free bytes, or 0 when the file system cannot be read (a report, never a refusal). */
export function freeBytesOrZero(path: string): number {
  try {
    return freeBytes(path);
  } catch {
    return 0;
  }
}

const size = (bytes: number) => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`);

/**
 * `--min-free-disk`: below it, new sessions and tasks are refused (RESOURCE_EXHAUSTED) before
 * anything is written; running work is never touched. Measured on the worktree root, where
 * sessions write.
 */
export class DiskGuard {
  constructor(
    private readonly root: string,
    private readonly minFreeBytes: number,
  ) {}

  check(what: string): void {
    if (this.minFreeBytes <= 0) return;
    const free = freeBytes(this.root);
    if (free < this.minFreeBytes) {
      throw resourceExhausted(
        'DISK_LOW',
        `${what} refused: ${size(free)} free on ${this.root}, below --min-free-disk ${size(this.minFreeBytes)}`,
      );
    }
  }
}
