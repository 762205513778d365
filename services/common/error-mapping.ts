import { isAbortError } from 'abort-controller-x';
import { Status, ServerError, type CallContext } from 'nice-grpc-common';
import { GroveError, REASON_TRAILER } from './errors.js';
import type { Logger } from './logging.js';

interface MethodShape {
  name?: string;
  requestStream: boolean;
  responseStream: boolean;
}

/** A ts-proto generic definition (`{fullName, methods}`) or a grpc-js one (`{method: {path}}`). */
type AnyDefinition = { fullName?: string; methods?: Record<string, MethodShape> } | Record<string, unknown>;

/**
 * The one place errors become gRPC statuses: GroveError → its code plus the `grove-reason`
 * trailer; ServerError and aborts pass through; anything else is a bug, logged with its
 * stack and answered INTERNAL, so clients never see raw exceptions.
 */
export function toServerError(err: unknown, context: CallContext, log: Logger, method: string): unknown {
  if (err instanceof GroveError) {
    context.trailer.set(REASON_TRAILER, err.reason);
    return new ServerError(err.code, err.message);
  }
  if (err instanceof ServerError || isAbortError(err)) return err;
  log.error({ err, method }, 'unhandled error in handler');
  context.trailer.set(REASON_TRAILER, 'INTERNAL');
  return new ServerError(Status.INTERNAL, `internal error: ${(err as Error)?.message ?? err}`);
}

/**
 * Wraps every handler of a service implementation with `toServerError`. A wrapper per
 * handler rather than a server middleware: nice-grpc runs each middleware as a layer of
 * async generators on every call, which costs a unary call measurably more.
 */
export function withErrorMapping<T extends object>(definition: AnyDefinition, implementation: T, log: Logger): T {
  const methods = ('methods' in definition && definition.methods ? definition.methods : definition) as Record<string, MethodShape>;
  const service = typeof definition.fullName === 'string' ? definition.fullName : '';
  const wrapped: Record<string, unknown> = { ...(implementation as Record<string, unknown>) };
  for (const [key, shape] of Object.entries(methods)) {
    const handler = (implementation as Record<string, unknown>)[key];
    if (typeof handler !== 'function') continue;
    const method = `${service}/${shape.name ?? key}`;
    const call = handler as (request: unknown, context: CallContext) => unknown;
    wrapped[key] = shape.responseStream
      ? async function* mapped(request: unknown, context: CallContext) {
          try {
            yield* call.call(implementation, request, context) as AsyncIterable<unknown>;
          } catch (err) {
            throw toServerError(err, context, log, method);
          }
        }
      : async (request: unknown, context: CallContext) => {
          try {
            return await call.call(implementation, request, context);
          } catch (err) {
            throw toServerError(err, context, log, method);
          }
        };
  }
  return wrapped as T;
}
