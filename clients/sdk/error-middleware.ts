import { ClientError, Status, type ClientMiddleware, type Metadata } from 'nice-grpc-common';
import { REASON_TRAILER } from '../../services/common/errors.js';
import { GroveClientError } from './grove-client-error.js';
import { RESYNC_REASONS, RevisionCompactedError } from './revision-compacted-error.js';

/** Builds the typed error for a failed call from its status and trailer reason. */
export function toGroveClientError(error: ClientError, reason: string): GroveClientError {
  if (error.code === Status.OUT_OF_RANGE && RESYNC_REASONS.has(reason)) {
    return new RevisionCompactedError(error.code, reason, error.details, error.path, { cause: error });
  }
  return new GroveClientError(error.code, reason, error.details, error.path, { cause: error });
}

/**
 * Re-throws every ClientError as a GroveClientError carrying the `grove-reason` trailer.
 * The trailer is captured through `onTrailer`, which grpc-js calls before the failed call's
 * promise settles, so it is known by the time the error reaches the catch below. Aborts by
 * the caller's signal pass through untouched: they are not call failures.
 */
export const errorMiddleware: ClientMiddleware = async function* mapErrors(call, options) {
  let trailer: Metadata | undefined;
  const { onTrailer } = options;
  try {
    return yield* call.next(call.request, {
      ...options,
      onTrailer(received) {
        trailer = received;
        onTrailer?.(received);
      },
    });
  } catch (err) {
    if (err instanceof ClientError) throw toGroveClientError(err, trailer?.get(REASON_TRAILER) ?? '');
    throw err;
  }
};
