import { delay } from 'abort-controller-x';
import type { FollowTaskLogResponse } from '@grove/sdk/proto/agent/v1/agent_service.js';
import { backoffDelay, GroveClientError, Status, type AgentCaller } from '@grove/sdk';

// Between a follow stream that ended early (the agent restarting) and the next one.
const POLL_MS = 200;

// The agent restarting or the link dropping: the log is still there once it is back, and
// logical offsets make picking up where we were exact.
const RETRYABLE: ReadonlySet<Status> = new Set([Status.UNAVAILABLE, Status.INTERNAL, Status.CANCELLED]);

export interface CopyTaskLogOptions {
  /** Keep going until the task has ended (else stop at what is written so far). */
  follow: boolean;
  /** Ends the copy by throwing its AbortError. */
  signal: AbortSignal;
  /** Receives each chunk in order, with its logical offset. */
  emit(chunk: FollowTaskLogResponse): void;
  /** Told when the agent could not be reached and the copy will retry. */
  notice(text: string): void;
}

/**
 * Copies a task's log from its beginning, every byte exactly once: with FollowTaskLog
 * (direct, or through the coordinator's tunnel) when following, else by paging ReadTaskLog
 * (routed like any unary call). A dropped
 * stream or an unreachable agent is retried from the last offset with backoff; the copy is
 * done only when the agent says the log ended (the task finished and all was read).
 */
export async function copyTaskLog(caller: AgentCaller, id: string, options: CopyTaskLogOptions): Promise<void> {
  const { follow, signal, emit, notice } = options;
  let offset = 0;
  let attempt = 0;
  const take = (data: Buffer, at: number) => {
    if (data.length === 0) return;
    emit({ data, offset: at });
    offset = at + data.length;
    attempt = 0;
  };
  for (;;) {
    try {
      if (follow) {
        // Ends at the end of the log, or early when the agent shuts down: the read below tells
        // which. Through a coordinator the stream rides a tunnel of its own from the agent.
        const chunks =
          caller.kind === 'direct'
            ? caller.agent.followTaskLog({ id, offset }, { signal })
            : caller.coordinator.followTaskLog({ id, offset }, { signal });
        for await (const chunk of chunks) take(chunk.data, chunk.offset);
      }
      const { response } = await caller.call('readTaskLog', { id, offset }, {}, { signal });
      // A head dropped by the agent's log cap moves the start forward: nextOffset is exact.
      take(response.data, response.nextOffset - response.data.length);
      offset = response.nextOffset;
      if (response.eof || (!follow && response.data.length === 0)) return;
      if (response.data.length === 0) await delay(signal, POLL_MS);
    } catch (err) {
      if (signal.aborted || !(err instanceof GroveClientError && RETRYABLE.has(err.code))) throw err;
      const delayMs = backoffDelay(attempt++);
      notice(`grove: reading the log of ${id} interrupted (${err.message}); resuming at byte ${offset} in ${Math.round(delayMs)}ms\n`);
      await delay(signal, delayMs);
    }
  }
}
