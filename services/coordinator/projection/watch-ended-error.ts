import { Status } from 'nice-grpc-common';
import { GroveError } from '../../common/errors.js';
import type { GroveReason } from '../../../wire/reasons.js';

/** Trailer carrying the last revision a watch delivered before the coordinator ended it. */
export { LAST_REVISION_TRAILER } from '../../../wire/trailers.js';

/**
 * The coordinator ended a watch it could not continue; `lastRevision` is the newest revision
 * the stream delivered (or skipped as filtered out), so the watcher knows where it stands.
 * The Watch handler puts it in the `grove-last-revision` trailer as well as the message.
 */
export class WatchEndedError extends GroveError {
  constructor(
    code: Status,
    reason: GroveReason,
    message: string,
    readonly lastRevision: number,
  ) {
    super(code, reason, message);
    this.name = 'WatchEndedError';
  }
}

/** RESOURCE_EXHAUSTED: the watcher fell further behind than its buffer; resume from `lastRevision`. */
export function slowSubscriber(lastRevision: number, pending: number, buffer: number): WatchEndedError {
  return new WatchEndedError(
    Status.RESOURCE_EXHAUSTED,
    'SLOW_SUBSCRIBER',
    `the watch fell ${pending} changes behind (its buffer holds ${buffer}) and was ended; ` +
      `the last revision delivered was ${lastRevision}; watch again from revision ${lastRevision}`,
    lastRevision,
  );
}

/** OUT_OF_RANGE: the changes after `lastRevision` left the ring; list again. */
export function revisionCompacted(lastRevision: number, oldest: number): WatchEndedError {
  return new WatchEndedError(
    Status.OUT_OF_RANGE,
    'REVISION_COMPACTED',
    `changes after revision ${lastRevision} are no longer retained (oldest is ${oldest}); ` +
      `the last revision delivered was ${lastRevision}; list again and watch from the list's revision`,
    lastRevision,
  );
}

/** OUT_OF_RANGE: a revision this coordinator process never issued (from an earlier one, or made up). */
export function revisionAhead(revision: number, newest: number): WatchEndedError {
  return new WatchEndedError(
    Status.OUT_OF_RANGE,
    'REVISION_AHEAD',
    `revision ${revision} is ahead of this coordinator's newest revision ${newest} (it restarted?); list again`,
    revision,
  );
}
