import { createClientFactory, type ClientFactory } from 'nice-grpc';
import { authMiddleware } from './auth-middleware.js';
import { DEFAULT_DEADLINE_MS, type GroveClientOptions } from './client-options.js';
import { callMiddleware, type DeadlineCallOptions } from './call-middleware.js';

/** Per-call options every grove client method accepts on top of nice-grpc's. */
export type GroveCallOptions = DeadlineCallOptions;

/**
 * The middleware stack shared by every grove client's streaming calls (unary calls take the
 * direct path, `direct-unary.ts`, with the same behaviour). nice-grpc runs the middleware attached
 * last first, so error mapping wraps everything (it also types the deadline's status) and
 * the token is added innermost, right before the call goes out.
 */
export function createGroveClientFactory(options: GroveClientOptions): ClientFactory<GroveCallOptions> {
  let factory: ClientFactory = createClientFactory();
  if (options.token) factory = factory.use(authMiddleware(options.token));
  return factory.use(callMiddleware(options.defaultDeadlineMs ?? DEFAULT_DEADLINE_MS));
}

/** What the direct unary path needs of the options: the token and the default deadline. */
export function unarySettings(options: GroveClientOptions): { token: string | undefined; defaultDeadlineMs: number } {
  return { token: options.token, defaultDeadlineMs: options.defaultDeadlineMs ?? DEFAULT_DEADLINE_MS };
}
