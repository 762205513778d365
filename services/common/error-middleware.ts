import { isAbortError } from 'abort-controller-x';
import { Status, type ServerMiddleware, ServerError } from 'nice-grpc-common';
import { GroveError, REASON_TRAILER } from './errors.js';
import type { Logger } from './logging.js';

/**
 * Maps GroveError to its gRPC status plus the `grove-reason` trailer. Anything else is a bug:
 * it is logged with its stack and answered INTERNAL, so clients never see raw exceptions.
 */
export function errorMiddleware(log: Logger): ServerMiddleware {
  return async function* mapErrors(call, context) {
    try {
      return yield* call.next(call.request, context);
    } catch (err) {
      if (err instanceof GroveError) {
        context.trailer.set(REASON_TRAILER, err.reason);
        throw new ServerError(err.code, err.message);
      }
      if (err instanceof ServerError || isAbortError(err)) throw err;
      log.error({ err, method: call.method.path }, 'unhandled error in handler');
      context.trailer.set(REASON_TRAILER, 'INTERNAL');
      throw new ServerError(Status.INTERNAL, `internal error: ${(err as Error)?.message ?? err}`);
    }
  };
}
