import { AbortError } from 'abort-controller-x';
import type { CommandResult, ConnectResponse } from '../../../gen/grove/link/v1/link.js';
import { AsyncQueue } from '../../common/async-queue.js';
import { deadlineExceeded, unavailable } from '../../common/errors.js';

interface PendingCommand {
  resolve(result: CommandResult): void;
  reject(err: unknown): void;
}

/**
 * One open link to one agent: what the coordinator sends down it, and the commands waiting
 * for their results. No I/O of its own: the Connect handler drains `outbox` into the stream
 * and feeds results back, which keeps this testable without a network.
 */
export class LinkSession {
  readonly outbox = new AsyncQueue<ConnectResponse>();
  private readonly pending = new Map<string, PendingCommand>();
  private closeReason: string | undefined;

  constructor(
    readonly agentId: string,
    readonly openedAt: Date,
    /** The agent process on the other end (Hello.instance_id). */
    readonly instanceId = '',
  ) {}

  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  /** Why the link closed (the first reason given), undefined while it is open. */
  get closedBecause(): string | undefined {
    return this.closeReason;
  }

  get pendingCommands(): number {
    return this.pending.size;
  }

  send(message: ConnectResponse): boolean {
    return this.outbox.push(message);
  }

  /**
   * Sends one command and waits for its result. A result with a non-OK code still resolves:
   * it is the agent's answer. Rejects UNAVAILABLE when the link closes first,
   * DEADLINE_EXCEEDED when no answer comes within `deadlineMs`, and with an AbortError when
   * `signal` aborts (the caller went away).
   */
  command(requestId: string, method: string, request: Uint8Array, deadlineMs: number, signal?: AbortSignal): Promise<CommandResult> {
    if (this.closeReason !== undefined) {
      return Promise.reject(unavailable('AGENT_NOT_CONNECTED', `agent ${this.agentId} has no open link`));
    }
    if (signal?.aborted) return Promise.reject(new AbortError());
    return new Promise<CommandResult>((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(requestId);
      };
      const onAbort = () => {
        settle();
        reject(new AbortError());
      };
      const timer = setTimeout(() => {
        settle();
        const message = `agent ${this.agentId} did not answer ${method} within ${deadlineMs} ms`;
        reject(deadlineExceeded('COMMAND_DEADLINE_EXCEEDED', message));
      }, deadlineMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(requestId, {
        resolve: (result) => {
          settle();
          resolve(result);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      });
      this.outbox.push({
        message: {
          $case: 'command',
          value: {
            requestId,
            method,
            request: Buffer.from(request),
            // Absolute, so the agent can stop work nobody waits for any more.
            deadline: new Date(Date.now() + deadlineMs),
            timeoutMs: deadlineMs,
          },
        },
      });
    });
  }

  /** Answers false for a result nobody waits for (timed out, or a stray request id). */
  resolve(result: CommandResult): boolean {
    const pending = this.pending.get(result.requestId);
    if (!pending) return false;
    pending.resolve(result);
    return true;
  }

  /** Idempotent. Fails every pending command UNAVAILABLE: its outcome is unknown. */
  close(reason: string, error?: unknown): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    this.outbox.end(error);
    for (const pending of [...this.pending.values()]) {
      pending.reject(
        unavailable(
          'LINK_CLOSED',
          `the link to agent ${this.agentId} closed (${reason}) before it answered; the command may or may not have run`,
        ),
      );
    }
  }
}
