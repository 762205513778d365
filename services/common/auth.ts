import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  Metadata,
  ServerInterceptingCall,
  status as Status,
  type StatusObject,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
} from '@grpc/grpc-js';
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
export function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

// Calls that prove nothing with a bearer token: health probes, the agent link and SignalTask.
// The link proves the token inside its stream (link-proof.ts); SignalTask is called from
// inside a task, which has no token, and proves itself with the task's own secret.
const UNAUTHENTICATED_PATHS = [HEALTH_PREFIX, '/grove.link.v1.LinkService/', '/grove.agent.v1.AgentService/SignalTask'];

/**
 * A call whose credentials are checked from its headers alone, before a byte of its body is
 * read: grpc-js keeps the HTTP/2 stream paused until the first read, and this call holds
 * that read back until the bearer token matched. A caller without the token costs the
 * server one header block, never a buffered request.
 */
type Refusal = Pick<StatusObject, 'code' | 'details'> & { metadata: Metadata };

class AuthenticatedCall extends ServerInterceptingCall {
  private verified = false;
  private readWanted = false;

  constructor(next: ServerInterceptingCallInterface, refusal: (metadata: Metadata) => Refusal | undefined) {
    super(next, {
      start: (startNext) =>
        startNext({
          onReceiveMetadata: (metadata, metadataNext) => {
            const refused = refusal(metadata);
            if (refused) {
              this.sendStatus(refused);
              return;
            }
            this.verified = true;
            metadataNext(metadata);
            if (this.readWanted) this.readNow();
          },
        }),
    });
  }

  override startRead(): void {
    if (this.verified) this.readNow();
    else this.readWanted = true;
  }

  private readNow(): void {
    this.readWanted = false;
    super.startRead();
  }
}

/**
 * Requires `authorization: Bearer <token>` on every call but health checks (probes carry no
 * credentials) and the agent link (which proves the token in-stream without revealing it).
 */
export function authInterceptor(token: string, log?: Logger): ServerInterceptor {
  return (method, call) => {
    if (UNAUTHENTICATED_PATHS.some((prefix) => method.path.startsWith(prefix))) return new ServerInterceptingCall(call);
    return new AuthenticatedCall(call, (metadata) => {
      const header = String(metadata.get('authorization')[0] ?? '');
      const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
      if (presented && sameSecret(presented, token)) return undefined;
      const reason = presented ? 'BAD_TOKEN' : 'MISSING_TOKEN';
      // Logged so an operator can tell a misconfigured agent or client from a silent one.
      log?.warn({ method: method.path, peer: call.getPeer(), reason }, 'call refused: bad or missing bearer token');
      const trailer = new Metadata();
      trailer.set(REASON_TRAILER, reason);
      return {
        code: Status.UNAUTHENTICATED,
        details: presented ? 'bearer token does not match' : 'a bearer token is required',
        metadata: trailer,
      };
    });
  };
}
