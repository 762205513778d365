import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Status, type ServerMiddleware, ServerError } from 'nice-grpc-common';
import { REASON_TRAILER } from './errors.js';
import type { Logger } from './logging.js';

const HEALTH_PREFIX = '/grpc.health.v1.Health/';

/** Reads a shared bearer token from a file; surrounding whitespace is not part of it. */
export function readTokenFile(path: string): string {
  const token = readFileSync(path, 'utf8').trim();
  if (token.length === 0) throw new Error(`token file ${path} is empty`);
  return token;
}

// Hash both sides so the comparison is constant-time whatever the lengths.
function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/**
 * Requires `authorization: Bearer <token>` on every call but health checks (probes carry no
 * credentials). With no token configured every call passes: the default bind is loopback.
 */
export function authMiddleware(token: string | undefined, log?: Logger): ServerMiddleware {
  return async function* auth(call, context) {
    if (token !== undefined && !call.method.path.startsWith(HEALTH_PREFIX)) {
      const header = context.metadata.get('authorization') ?? '';
      const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
      if (!presented || !sameSecret(presented, token)) {
        const reason = presented ? 'BAD_TOKEN' : 'MISSING_TOKEN';
        // Logged so an operator can tell a misconfigured agent or client from a silent one.
        log?.warn({ method: call.method.path, peer: context.peer, reason }, 'call refused: bad or missing bearer token');
        context.trailer.set(REASON_TRAILER, reason);
        throw new ServerError(
          Status.UNAUTHENTICATED,
          presented ? 'bearer token does not match' : 'a bearer token is required',
        );
      }
    }
    return yield* call.next(call.request, context);
  };
}
