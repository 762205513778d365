import { ClientError, Status, type ClientMiddleware } from 'nice-grpc-common';

/** Call options added by the deadline middleware. */
export interface DeadlineCallOptions {
  /**
   * When the call gives up with DEADLINE_EXCEEDED: a Date, or milliseconds from now.
   * Unary calls default to the client's `defaultDeadlineMs`; streams have none unless given,
   * because a watch is meant to stay open.
   */
  deadline?: Date | number;
}

/**
 * Enforces deadlines client-side by aborting the call, so a hung server (stopped process,
 * black-holed connection) cannot block a caller forever.
 */
export function deadlineMiddleware(defaultDeadlineMs: number): ClientMiddleware<DeadlineCallOptions> {
  return async function* withDeadline(call, options) {
    const { deadline = call.responseStream ? undefined : defaultDeadlineMs, signal, ...rest } = options;
    if (deadline === undefined) return yield* call.next(call.request, options);

    const timeoutMs = deadline instanceof Date ? deadline.getTime() - Date.now() : deadline;
    const controller = new AbortController();
    const forwardAbort = () => controller.abort();
    signal?.addEventListener('abort', forwardAbort);
    if (signal?.aborted) controller.abort();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, Math.max(0, timeoutMs));
    try {
      return yield* call.next(call.request, { ...rest, signal: controller.signal });
    } catch (err) {
      // The abort we caused surfaces as an AbortError; the caller asked for a status.
      if (timedOut) {
        throw new ClientError(call.method.path, Status.DEADLINE_EXCEEDED, `deadline of ${timeoutMs}ms exceeded`);
      }
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forwardAbort);
    }
  };
}
