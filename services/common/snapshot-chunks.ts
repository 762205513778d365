import { Job, Lock, Repo, Session, Sync, Task, type Snapshot } from '../../gen/grove/agent/v1/resources.js';
import type { SnapshotChunk } from '../../gen/grove/link/v1/link.js';

/** Encoded bytes one chunk aims at; an item bigger than this travels alone. */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

type ListKey = 'repos' | 'sessions' | 'tasks' | 'jobs' | 'syncs' | 'locks';

const CODECS: Array<[ListKey, { encode(item: never): { finish(): Uint8Array } }]> = [
  ['repos', Repo],
  ['sessions', Session],
  ['tasks', Task],
  ['jobs', Job],
  ['syncs', Sync],
  ['locks', Lock],
];

const emptyPart = (revision: number): Snapshot => ({ revision, repos: [], sessions: [], tasks: [], jobs: [], syncs: [], locks: [] });

/** Splits a snapshot into parts of about `chunkBytes` encoded bytes each, in list order. */
export function chunkSnapshot(snapshot: Snapshot, chunkBytes = SNAPSHOT_CHUNK_BYTES): SnapshotChunk[] {
  const parts: Snapshot[] = [emptyPart(snapshot.revision)];
  let size = 0;
  for (const [key, codec] of CODECS) {
    for (const item of snapshot[key]) {
      // Field tag and length prefix: a few bytes more than the item itself.
      const bytes = codec.encode(item as never).finish().length + 6;
      if (size > 0 && size + bytes > chunkBytes) {
        parts.push(emptyPart(snapshot.revision));
        size = 0;
      }
      (parts[parts.length - 1]![key] as unknown[]).push(item);
      size += bytes;
    }
  }
  return parts.map((part, index) => ({ revision: snapshot.revision, index, last: index === parts.length - 1, part }));
}

/**
 * Puts a chunked snapshot back together on the receiving side. Chunks must come in order,
 * all of one revision; anything else is a protocol error the caller ends the link for.
 */
export class SnapshotAssembler {
  private pending: Snapshot | undefined;
  private nextIndex = 0;

  /** Adds a chunk; answers the whole snapshot once its last chunk is in. */
  add(chunk: SnapshotChunk): Snapshot | undefined {
    if (chunk.index === 0) {
      this.pending = emptyPart(chunk.revision);
      this.nextIndex = 0;
    }
    if (!this.pending || chunk.index !== this.nextIndex || chunk.revision !== this.pending.revision) {
      throw new Error(`snapshot chunk ${chunk.index} of revision ${chunk.revision} arrived out of order`);
    }
    for (const [key] of CODECS) (this.pending[key] as unknown[]).push(...(chunk.part?.[key] ?? []));
    this.nextIndex++;
    if (!chunk.last) return undefined;
    const whole = this.pending;
    this.pending = undefined;
    return whole;
  }

  /** Whether a snapshot is half received. */
  get inProgress(): boolean {
    return this.pending !== undefined;
  }
}
