import type { Event, Snapshot } from '../../../gen/grove/agent/v1/resources.js';
import type { Agent } from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import type { ProjectionState } from '../link/resume-plan.js';
import { AgentProjection, type ApplyOutcome } from './agent-projection.js';
import type { Change, ChangeLog } from './change-log.js';

/**
 * Every agent's projection, in memory only: it is rebuilt from the agents after a restart.
 * Every change is numbered in the change log, so a list answered from here says which
 * revision it reflects and a watch can continue from exactly there.
 */
export class Projection {
  private readonly agents = new Map<string, AgentProjection>();

  constructor(private readonly changes: ChangeLog) {}

  /** The coordinator revision: the newest change applied. */
  get revision(): number {
    return this.changes.newest;
  }

  of(agentId: string): AgentProjection | undefined {
    return this.agents.get(agentId);
  }

  state(agentId: string): ProjectionState | undefined {
    const agent = this.agents.get(agentId);
    return agent && { synced: agent.synced, appliedRevision: agent.appliedRevision };
  }

  entries(): IterableIterator<[string, AgentProjection]> {
    return this.agents.entries();
  }

  replace(agentId: string, snapshot: Snapshot): void {
    let agent = this.agents.get(agentId);
    if (!agent) {
      agent = new AgentProjection();
      this.agents.set(agentId, agent);
    }
    for (const event of agent.replace(snapshot)) this.changes.append(agentId, { $case: 'event', value: event });
  }

  apply(agentId: string, event: Event): ApplyOutcome {
    const agent = this.agents.get(agentId);
    if (!agent) return 'gap';
    const outcome = agent.apply(event);
    if (outcome === 'applied') this.changes.append(agentId, { $case: 'event', value: event });
    return outcome;
  }

  /** The agent linked, unlinked or described itself anew. */
  agentChanged(agent: Agent): void {
    this.changes.append(agent.id, { $case: 'agent', value: agent });
  }

  /** The projection of this agent can no longer be trusted to be complete: the next link resyncs. */
  invalidate(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (agent) agent.synced = false;
  }

  watch(after: number, signal: AbortSignal): AsyncGenerator<Change> {
    return this.changes.watch(after, signal);
  }
}
