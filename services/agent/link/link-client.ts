import { readFileSync } from 'node:fs';
import { credentials as grpcCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { delay, isAbortError } from 'abort-controller-x';
import { ClientError, Status } from 'nice-grpc';
import type { Logger } from '../../common/logging.js';
import type { AgentContext, LinkStatus } from '../agent-context.js';
import { createAgentServiceImpl } from '../rpc/agent-service.js';
import { backoffDelay, LINK_BACKOFF } from './backoff.js';
import { createCommandDispatcher } from './command-dispatch.js';
import { createTunnelDispatcher } from './tunnel-dispatch.js';
import { LinkAuthError, runLinkConnection } from './link-connection.js';

export interface LinkOptions {
  /** host:port of the coordinator. */
  coordinator: string;
  token?: string | undefined;
  /** CA to verify the coordinator's TLS certificate; plaintext when absent. */
  caFile?: string | undefined;
  context: AgentContext;
  /** This link's entry in `context.links`: updated as it connects, is welcomed and fails. */
  status: LinkStatus;
  heartbeatMs?: number | undefined;
  log: Logger;
}

export interface RunningLink {
  /** Ends the stream and stops redialling; resolves once nothing of the link is left running. */
  close(): Promise<void>;
}

/**
 * Holds the agent's link to one coordinator for the agent's whole life (an agent linked to
 * several replicas runs one of these per replica, each independent of the others): dials, and whenever
 * the link fails or the coordinator ends it, redials with exponential backoff and full
 * jitter. The backoff resets once a coordinator welcomes us, so a coordinator restart is
 * followed by a quick rejoin. Stops on `close()` or when the agent shuts down.
 */
export function startLink(options: LinkOptions): RunningLink {
  const { log } = options;
  const stop = new AbortController();
  const signal = AbortSignal.any([stop.signal, options.context.shutdown]);
  // Read once: a missing CA file is a configuration error worth failing start-up for.
  const channelCredentials: ChannelCredentials = options.caFile
    ? grpcCredentials.createSsl(readFileSync(options.caFile))
    : grpcCredentials.createInsecure();
  // Handlers are stateless wrappers over the services in the context, so this second set
  // shares every lock, queue and mutex with the gRPC server's.
  const impl = createAgentServiceImpl(options.context);
  const dispatch = createCommandDispatcher(impl, log);
  const tunnel = createTunnelDispatcher(impl, options.context.identity.id, log);

  const STABLE_LINK_MS = 10_000;

  async function run(): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let error: unknown;
      let welcomedAt: number | undefined;
      try {
        await runLinkConnection(
          {
            coordinator: options.coordinator,
            credentials: channelCredentials,
            token: options.token,
            context: options.context,
            dispatch,
            tunnel,
            heartbeatMs: options.heartbeatMs,
            log,
            onWelcome: () => {
              welcomedAt = Date.now();
              const link = options.status;
              Object.assign(link, { state: 'connected', lastError: '', welcomes: link.welcomes + 1 });
            },
          },
          signal,
        );
      } catch (err) {
        error = err;
      }
      Object.assign(options.status, { state: 'failing', lastError: describeLinkFailure(error) });
      if (signal.aborted) break;
      // Only a link that stayed up a while resets the backoff: one that fails right after its
      // Welcome (a snapshot too large, a coordinator crashing on it) must not redial hot.
      if (welcomedAt !== undefined && Date.now() - welcomedAt > STABLE_LINK_MS) failures = 0;
      const retryInMs = backoffDelay(failures, LINK_BACKOFF);
      logFailure(log, error, failures, retryInMs);
      failures++;
      try {
        await delay(signal, retryInMs);
      } catch (err) {
        if (!isAbortError(err)) throw err;
      }
    }
  }

  const running = run().catch((err: unknown) => log.error({ err }, 'coordinator link stopped on an unexpected error'));
  return {
    async close() {
      stop.abort();
      await running;
      log.info('coordinator link closed');
    },
  };
}

// The first failure of a streak is worth a warning; the redials after it would only flood
// the log while the coordinator is away. A refused token is an error every time it repeats
// at the cap, since only a person can fix it.
function logFailure(log: Logger, error: unknown, failures: number, retryInMs: number): void {
  const refused = (error instanceof ClientError && error.code === Status.UNAUTHENTICATED) || error instanceof LinkAuthError;
  if (error === undefined) {
    log.warn({ retryInMs }, 'coordinator ended the link; redialling');
  } else if (refused && (failures === 0 || failures % 10 === 0)) {
    log.error({ err: error, retryInMs }, 'link not authenticated: check the token and the address');
  } else if (failures === 0) {
    log.warn({ err: error, retryInMs }, 'coordinator link failed; redialling');
  } else {
    log.debug({ err: error, retryInMs, failures }, 'coordinator link redial failed');
  }
}

function describeLinkFailure(error: unknown): string {
  if (error === undefined) return 'the coordinator ended the link';
  if (error instanceof ClientError) return `${Status[error.code]}: ${error.details}`;
  return String((error as Error)?.message ?? error);
}
