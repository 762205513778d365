import { Metadata, type ClientMiddleware } from 'nice-grpc-common';

/** Sends `authorization: Bearer <token>` on every call, unary and streaming. */
export function authMiddleware(token: string): ClientMiddleware {
  const header = `Bearer ${token}`;
  return async function* bearer(call, options) {
    const metadata = Metadata(options.metadata).set('authorization', header);
    return yield* call.next(call.request, { ...options, metadata });
  };
}
