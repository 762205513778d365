import { createClientFactory, type ClientFactory } from 'nice-grpc';
import { authMiddleware } from './auth-middleware.js';
import { DEFAULT_DEADLINE_MS, type GroveClientOptions } from './client-options.js';
import { callMiddleware, type DeadlineCallOptions } from './call-middleware.js';

/** Per-call options every grove client method accepts on top of nice-grpc's. */
export type GroveCallOptions = DeadlineCallOptions;

/**
 * The middleware stack shared by every grove client. nice-grpc runs the middleware attached
 * last first, so error mapping wraps everything (it also types the deadline's status) and
 * the token is added innermost, right before the call goes out.
 */
export function createGroveClientFactory(options: GroveClientOptions): ClientFactory<GroveCallOptions> {
  let factory: ClientFactory = createClientFactory();
  if (options.token) factory = factory.use(authMiddleware(options.token));
  return factory.use(callMiddleware(options.defaultDeadlineMs ?? DEFAULT_DEADLINE_MS));
}
