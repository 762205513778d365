import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isFinished } from '../domain/task-lifecycle.js';
import type { TaskRow } from '../store/entities.js';

const TAIL_BYTES = 2048;
/** The most one read or one streamed chunk of a log carries. */
export const MAX_LOG_READ = 1024 * 1024;

/**
 * A task's log as the runner keeps it: `output.log` holds the newest bytes and `dropped`
 * counts the head bytes trimmed away, so offsets are logical (bytes since the task began)
 * and a reader never re-reads or skips because the head was dropped.
 */
export function readLogChunk(task: TaskRow, offset: number, limit: number): { data: Buffer; nextOffset: number; eof: boolean } {
  const path = join(task.runDir, 'output.log');
  let dropped = 0;
  try {
    dropped = Number(readFileSync(join(task.runDir, 'dropped'), 'utf8')) || 0;
  } catch {
    // nothing dropped yet
  }
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {
    // not started yet
  }
  const start = Math.max(0, offset - dropped);
  const length = Math.max(0, Math.min(limit, size - start));
  const data = Buffer.alloc(length);
  if (length > 0) {
    const fd = openSync(path, 'r');
    readSync(fd, data, 0, length, start);
    closeSync(fd);
  }
  const nextOffset = dropped + start + length;
  return { data, nextOffset, eof: isFinished(task.state) && nextOffset >= dropped + size };
}

/** The last couple of KiB of output, kept on the task row when it ends. */
export function logTail(task: TaskRow): string {
  const path = join(task.runDir, 'output.log');
  try {
    const size = statSync(path).size;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    const fd = openSync(path, 'r');
    readSync(fd, buffer, 0, length, size - length);
    closeSync(fd);
    return buffer.toString('utf8');
  } catch {
    return '';
  }
}
