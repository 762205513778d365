import { Status, ServerError, type CallContext, type ServerMiddleware, type ServerMiddlewareCall } from 'nice-grpc';
import { isAbortError } from 'abort-controller-x';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { HttpRoute } from './http-server.js';

/**
 * One Prometheus registry per service instance (prom-client's global registry would mix two
 * services started in one process). Process metrics (CPU, memory, event-loop lag) come with it.
 */
export function createMetricsRegistry(prefix: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `${prefix}_` });
  return registry;
}

/** `/metrics` in Prometheus text exposition. */
export function metricsRoute(registry: Registry): HttpRoute {
  return { contentType: registry.contentType, body: () => registry.metrics() };
}

/**
 * Times every call by method and final status code: for a stream, from its start to its end.
 * The status is read the way a client would see it (an abort is CANCELLED).
 */
export function rpcMetricsMiddleware(registry: Registry, prefix: string): ServerMiddleware {
  const duration = new Histogram({
    name: `${prefix}_rpc_duration_seconds`,
    help: 'gRPC calls served, by method and status code, with their duration',
    labelNames: ['method', 'code'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300],
    registers: [registry],
  });
  return async function* rpcMetrics<Request, Response>(call: ServerMiddlewareCall<Request, Response>, context: CallContext) {
    const end = duration.startTimer({ method: call.method.path });
    let code = Status.OK;
    try {
      return yield* call.next(call.request, context);
    } catch (err) {
      code = err instanceof ServerError ? err.code : isAbortError(err) ? Status.CANCELLED : Status.UNKNOWN;
      throw err;
    } finally {
      end({ code: Status[code] ?? String(code) });
    }
  };
}

/** A proto enum's named values without the prefix and the UNSPECIFIED/UNRECOGNIZED ones, lower-cased. */
export function enumEntries(values: Record<string, string | number>, prefix: string): [string, number][] {
  return Object.entries(values)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number' && entry[1] > 0)
    .map(([name, value]) => [name.slice(prefix.length).toLowerCase(), value]);
}
