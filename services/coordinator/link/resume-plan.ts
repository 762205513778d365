import type { ProjectionState } from '../projection/projection-state.js';

export type { ProjectionState };

export interface HelloRevisions {
  /** Newest revision in the agent's log. */
  revision: number;
  /** Oldest revision it still retains. */
  oldestRevision: number;
}

export interface ResumePlan {
  /** Meaningless (0) when a snapshot is wanted: the stream continues from the snapshot's revision. */
  resumeAfterRevision: number;
  wantSnapshot: boolean;
  why: 'resume' | 'no-projection' | 'agent-behind' | 'compacted';
}

/**
 * Where an agent's stream should start. Events are replayed only when every one the
 * projection lacks is still in the agent's log; otherwise a snapshot replaces the projection.
 * Asking up front saves the agent a failed watch, though it falls back to a snapshot anyway.
 */
export function planResume(state: ProjectionState | undefined, hello: HelloRevisions): ResumePlan {
  if (!state?.synced) return { resumeAfterRevision: 0, wantSnapshot: true, why: 'no-projection' };
  // Ahead of the agent: its database was replaced (restored from a backup, say).
  if (state.appliedRevision > hello.revision) {
    return { resumeAfterRevision: 0, wantSnapshot: true, why: 'agent-behind' };
  }
  if (state.appliedRevision < hello.oldestRevision - 1) {
    return { resumeAfterRevision: 0, wantSnapshot: true, why: 'compacted' };
  }
  return { resumeAfterRevision: state.appliedRevision, wantSnapshot: false, why: 'resume' };
}
