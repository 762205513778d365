import { Status, type Metadata } from 'nice-grpc-common';

import { LAST_REVISION_TRAILER } from '../../wire/trailers.js';
import type { CoordinatorServiceClient, WatchResponse } from '../../gen/grove/coordinator/v1/coordinator_service.js';
import { backoffDelay, waitToRetry, type BackoffOptions } from './backoff.js';
import { GroveClientError } from './grove-client-error.js';
import type { GroveCallOptions } from './grove-client-factory.js';
import type { ReconnectInfo } from './resuming-watch.js';

export interface CoordinatorWatchOptions {
  /** Deliver changes after this coordinator revision (ignored while an initial snapshot is owed). */
  fromRevision?: number;
  /** Start with every resource as it is now, ended by a `snapshotDone` marker. */
  initialSnapshot?: boolean;
  /** Only this agent's changes (id or name). */
  agent?: string;
  signal?: AbortSignal;
  backoff?: BackoffOptions;
  onReconnect?: (info: ReconnectInfo) => void;
}

// A dropped connection, a restarting coordinator, or the coordinator cutting off a watcher
// that fell behind (RESOURCE_EXHAUSTED, reason SLOW_SUBSCRIBER): all resume where we were.
function resumable(err: unknown): err is GroveClientError {
  if (!(err instanceof GroveClientError)) return false;
  if (err.code === Status.RESOURCE_EXHAUSTED) return err.reason === 'SLOW_SUBSCRIBER';
  return err.code === Status.UNAVAILABLE || err.code === Status.INTERNAL || err.code === Status.CANCELLED;
}

/**
 * CoordinatorService.Watch that resumes by itself: every change reaches the consumer exactly
 * once and in order across dropped connections and slow-subscriber cut-offs, by resuming
 * after the last delivered revision. An initial snapshot cut off before its end marker is
 * started again (its items are state, so seeing one twice is harmless). A revision the
 * coordinator no longer holds (it restarted, or the gap outgrew its history) throws
 * RevisionCompactedError: list again, or watch again with `initialSnapshot`.
 */
export async function* resumingCoordinatorWatch(
  client: CoordinatorServiceClient<GroveCallOptions>,
  options: CoordinatorWatchOptions = {},
): AsyncGenerator<WatchResponse, void, undefined> {
  const signal = options.signal ?? new AbortController().signal;
  let after = options.fromRevision ?? 0;
  // With no revision to start from there is nothing to resume: start from a snapshot.
  let snapshotOwed = options.initialSnapshot ?? options.fromRevision === undefined;
  let attempt = 0;
  while (!signal.aborted) {
    let error: GroveClientError | undefined;
    // A watch narrowed to one agent may be cut off past changes it never saw (other agents'):
    // the coordinator names the last revision it had reached, the right place to resume.
    let reached = 0;
    const onTrailer = (trailer: Metadata) => void (reached = Number(trailer.get(LAST_REVISION_TRAILER) ?? 0) || 0);
    try {
      const request = { fromRevision: snapshotOwed ? 0 : after, initialSnapshot: snapshotOwed, agent: options.agent ?? '' };
      for await (const response of client.watch(request, { signal, onTrailer })) {
        attempt = 0;
        if (snapshotOwed) {
          if (response.snapshotDone) {
            snapshotOwed = false;
            after = response.revision;
          }
          yield response;
          continue;
        }
        if (response.revision <= after) continue;
        after = response.revision;
        yield response;
      }
    } catch (err) {
      if (signal.aborted) return;
      if (!resumable(err)) throw err;
      error = err;
      if (!snapshotOwed && reached > after) after = reached;
    }
    if (signal.aborted) return;
    const delayMs = backoffDelay(attempt++, options.backoff);
    options.onReconnect?.({ error, attempt, delayMs, afterRevision: after });
    if (!(await waitToRetry(signal, delayMs))) return;
  }
}
