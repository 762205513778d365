import { ClientError, Status, type ClientMiddleware, type Metadata } from 'nice-grpc-common';
import { REASON_TRAILER } from '../../wire/trailers.js';
import { GroveClientError } from './grove-client-error.js';
import { RESYNC_REASONS, RevisionCompactedError } from './revision-compacted-error.js';

/** Call options added by the SDK. */
export interface DeadlineCallOptions {
  /**
   * When the call gives up with DEADLINE_EXCEEDED: a Date, or milliseconds from now.
   * Unary calls default to the client's `defaultDeadlineMs`; streams have none unless given,
   * because a watch is meant to stay open.
   */
  deadline?: Date | number;
}

/** Builds the typed error for a failed call from its status and trailer reason. */
export function toGroveClientError(error: ClientError, reason: string): GroveClientError {
  if (error.code === Status.OUT_OF_RANGE && RESYNC_REASONS.has(reason)) {
    return new RevisionCompactedError(error.code, reason, error.details, error.path, { cause: error });
  }
  return new GroveClientError(error.code, reason, error.details, error.path, { cause: error });
}

/**
 * The SDK's per-call behaviour in one middleware (each nice-grpc middleware is a layer of
 * async generators on every call, so one layer instead of two is measurably cheaper):
 *
 * - **Deadlines**, enforced client-side by aborting the call, so a hung server (stopped
 *   process, black-holed connection) cannot block a caller forever.
 * - **Typed errors**: every ClientError is re-thrown as a GroveClientError carrying the
 *   `grove-reason` trailer, captured through `onTrailer` (grpc-js calls it before the failed
 *   call settles). Aborts by the caller's own signal pass through untouched: they are not
 *   call failures.
 */
export function callMiddleware(defaultDeadlineMs: number): ClientMiddleware<DeadlineCallOptions> {
  return async function* groveCall(call, options) {
    const { deadline = call.responseStream ? undefined : defaultDeadlineMs, signal, onTrailer, ...rest } = options;
    let trailer: Metadata | undefined;
    const captureTrailer = (received: Metadata) => {
      trailer = received;
      onTrailer?.(received);
    };
    const timeoutMs = deadline === undefined ? undefined : deadline instanceof Date ? deadline.getTime() - Date.now() : deadline;
    const controller = timeoutMs === undefined ? undefined : new AbortController();
    const forwardAbort = () => controller?.abort();
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    if (controller) {
      signal?.addEventListener('abort', forwardAbort);
      if (signal?.aborted) controller.abort();
      timer = setTimeout(
        () => {
          timedOut = true;
          controller.abort();
        },
        Math.max(0, timeoutMs!),
      );
    }
    try {
      return yield* call.next(call.request, { ...rest, signal: controller?.signal ?? signal, onTrailer: captureTrailer });
    } catch (err) {
      // The abort we caused surfaces as an AbortError; the caller asked for a status.
      if (timedOut) {
        throw toGroveClientError(new ClientError(call.method.path, Status.DEADLINE_EXCEEDED, `deadline of ${timeoutMs}ms exceeded`), '');
      }
      // Already ours (it is a ClientError too): passed on as it is.
      if (err instanceof GroveClientError) throw err;
      if (err instanceof ClientError) throw toGroveClientError(err, trailer?.get(REASON_TRAILER) ?? '');
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forwardAbort);
    }
  };
}
