import { isAbortError } from 'abort-controller-x';
import { Status } from 'nice-grpc-common';
import type { CommandResult } from '../../../gen/grove/link/v1/link.js';
import { GroveError, unavailable } from '../../common/errors.js';
import { newId } from '../../common/ids.js';
import type { Logger } from '../../common/logging.js';
import type { CommandAudit } from '../store/command-audit.js';
import type { LinkSession } from './link-session.js';

export interface SendCommandOptions {
  /** The caller went away: stop waiting (the agent may still run the command). */
  signal?: AbortSignal | undefined;
}

/** The open links, one per agent at most: a newer link from the same agent replaces the older. */
export class LinkHub {
  private readonly sessions = new Map<string, LinkSession>();

  constructor(
    private readonly audit: CommandAudit,
    private readonly log: Logger,
  ) {}

  /** Makes `session` the agent's link; answers the one it replaces, for the caller to close. */
  attach(session: LinkSession): LinkSession | undefined {
    const previous = this.sessions.get(session.agentId);
    this.sessions.set(session.agentId, session);
    return previous === session ? undefined : previous;
  }

  /** Answers whether `session` was still the agent's link (and so the agent is now unlinked). */
  detach(session: LinkSession): boolean {
    if (this.sessions.get(session.agentId) !== session) return false;
    this.sessions.delete(session.agentId);
    return true;
  }

  get(agentId: string): LinkSession | undefined {
    return this.sessions.get(agentId);
  }

  isOpen(agentId: string): boolean {
    const session = this.sessions.get(agentId);
    return session !== undefined && !session.closed;
  }

  /**
   * Runs one AgentService method on an agent over its link: `method` as in the proto
   * ("GetAgentInfo"), `request` its encoded request, `deadlineMs` how long to wait from now.
   * Resolves with the agent's CommandResult whatever its code; rejects UNAVAILABLE when the
   * agent has no open link or it drops before answering, DEADLINE_EXCEEDED when it is late.
   * Every command is audited.
   */
  async sendCommand(
    agentId: string,
    method: string,
    request: Uint8Array,
    deadlineMs: number,
    options: SendCommandOptions = {},
  ): Promise<CommandResult> {
    const session = this.sessions.get(agentId);
    if (!session || session.closed) {
      throw unavailable('AGENT_NOT_CONNECTED', `agent ${agentId} has no open link to this coordinator`);
    }
    const requestId = newId('cmd');
    await this.audit.sent({ requestId, agentId, method, requestedAt: new Date() });
    try {
      const result = await session.command(requestId, method, request, deadlineMs, options.signal);
      await this.audit.completed(requestId, result.code, result.reason, new Date());
      this.log.debug({ requestId, agent: agentId, method, code: result.code }, 'command answered');
      return result;
    } catch (err) {
      const code = err instanceof GroveError ? err.code : isAbortError(err) ? Status.CANCELLED : Status.UNKNOWN;
      const reason = err instanceof GroveError ? err.reason : isAbortError(err) ? 'CALLER_CANCELLED' : 'UNKNOWN';
      await this.audit.completed(requestId, code, reason, new Date());
      this.log.info({ requestId, agent: agentId, method, code, reason }, 'command failed on the link');
      throw err;
    }
  }

  closeAll(reason: string): void {
    for (const session of this.sessions.values()) session.close(reason);
  }
}
