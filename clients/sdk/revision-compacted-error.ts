import type { Status } from 'nice-grpc-common';
import { GroveClientError } from './grove-client-error.js';

/** Reasons with which a server refuses to resume a watch from a revision. */
export const RESYNC_REASONS: ReadonlySet<string> = new Set(['REVISION_COMPACTED', 'REVISION_AHEAD']);

/**
 * The revision a watch asked to resume from is no longer (or not yet) in the server's event
 * log, so events in between cannot be replayed. The consumer must list again and watch from
 * the list's revision (the Kubernetes list+watch contract); retrying the same watch would
 * fail the same way.
 */
export class RevisionCompactedError extends GroveClientError {
  constructor(code: Status, reason: string, details: string, path: string, options?: ErrorOptions) {
    super(code, reason, details, path, options);
    this.name = 'RevisionCompactedError';
  }
}
