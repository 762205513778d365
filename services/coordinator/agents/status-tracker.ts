import type { AgentStatusName } from './agent-status.js';

/** What an agent's status change means for watchers. */
export interface StatusTransition {
  previous: AgentStatusName | undefined;
  status: AgentStatusName;
  /** The agent's link went down or came back: how its sessions are shown changed with it. */
  sessionsChanged: boolean;
}

/**
 * Pure: whether going from `previous` to `status` changes how the agent's sessions look.
 * Sessions show their own activity only while the agent is connected (UNKNOWN otherwise).
 */
export function crossesConnected(previous: AgentStatusName | undefined, status: AgentStatusName): boolean {
  return previous !== undefined && (previous === 'connected') !== (status === 'connected');
}

/**
 * Status is derived from time, so nothing happens when an agent silently crosses its TTL.
 * This remembers the status last announced per agent so a periodic sweep can announce the
 * crossings (and only those) as changes watchers see.
 */
export class StatusTracker {
  private readonly announced = new Map<string, AgentStatusName>();

  /** Records without announcing: the statuses a restarted coordinator starts from. */
  seed(agentId: string, status: AgentStatusName): void {
    this.announced.set(agentId, status);
  }

  /** Records `status`; answers the transition when it differs from the last one (or `force`). */
  update(agentId: string, status: AgentStatusName, force = false): StatusTransition | undefined {
    const previous = this.announced.get(agentId);
    if (previous === status && !force) return undefined;
    this.announced.set(agentId, status);
    return { previous, status, sessionsChanged: crossesConnected(previous, status) };
  }
}
