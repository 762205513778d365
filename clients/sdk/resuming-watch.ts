import { Status } from 'nice-grpc-common';
import type { AgentServiceClient } from '../../gen/grove/agent/v1/agent_service.js';
import type { Event } from '../../gen/grove/agent/v1/resources.js';
import { backoffDelay, waitToRetry, type BackoffOptions } from './backoff.js';
import { GroveClientError } from './grove-client-error.js';
import type { GroveCallOptions } from './grove-client-factory.js';

export interface WatchOptions {
  /** Deliver events with a revision greater than this; 0 (default) replays the retained log. */
  afterRevision?: number;
  /** Ends the watch cleanly (the iteration just finishes) when aborted. */
  signal?: AbortSignal;
  backoff?: BackoffOptions;
  /** Told about each dropped connection, before waiting `delayMs` to reconnect. */
  onReconnect?: (info: ReconnectInfo) => void;
}

export interface ReconnectInfo {
  /** Why the stream ended: a GroveClientError, or undefined when the server closed it. */
  error: GroveClientError | undefined;
  /** 1 for the first retry since the last delivered event. */
  attempt: number;
  delayMs: number;
  /** The revision the watch resumes after. */
  afterRevision: number;
}

// Failures of the connection or the server process rather than of the request: resuming
// from the last delivered revision is safe and, once the agent is back, succeeds.
const RESUMABLE_CODES: ReadonlySet<Status> = new Set([Status.UNAVAILABLE, Status.INTERNAL, Status.CANCELLED]);

/**
 * AgentService.WatchEvents that survives agent restarts and dropped connections. Every
 * revision reaches the consumer exactly once and in order: the watch remembers the last
 * revision it delivered and resumes after it, skipping anything at or below it. A revision
 * the agent no longer retains throws RevisionCompactedError (list again); any other error
 * is thrown as the GroveClientError it is.
 */
export async function* resumingWatch(
  client: AgentServiceClient<GroveCallOptions>,
  options: WatchOptions = {},
): AsyncGenerator<Event, void, undefined> {
  const signal = options.signal ?? new AbortController().signal;
  let after = options.afterRevision ?? 0;
  let attempt = 0;
  while (!signal.aborted) {
    let error: GroveClientError | undefined;
    try {
      for await (const event of client.watchEvents({ afterRevision: after }, { signal })) {
        if (event.revision <= after) continue;
        after = event.revision;
        attempt = 0;
        yield event;
      }
      // A watch never ends on its own: the server closed it because it is shutting down.
    } catch (err) {
      if (signal.aborted) return;
      if (!(err instanceof GroveClientError && RESUMABLE_CODES.has(err.code))) throw err;
      error = err;
    }
    if (signal.aborted) return;
    const delayMs = backoffDelay(attempt++, options.backoff);
    options.onReconnect?.({ error, attempt, delayMs, afterRevision: after });
    if (!(await waitToRetry(signal, delayMs))) return;
  }
}
