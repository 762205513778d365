import type { Event, Snapshot } from '../../../gen/grove/agent/v1/resources.js';
import type { Agent, Group } from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import type { ProjectionState } from './projection-state.js';
import { AgentProjection, type ApplyOutcome } from './agent-projection.js';
import type { Change, ChangeLog, ChangeSubscription } from './change-log.js';
import { ProjectionIndex } from './projection-index.js';
import type { WatchEndedError } from './watch-ended-error.js';

/**
 * How an agent's event is shown to watchers (owner filled in, a session's activity as the
 * agent's status allows). Applied once, when the change is numbered, so every watcher sees
 * the same thing for the same revision.
 */
export type EventView = (agentId: string, event: Event) => Event;

export interface SubscribeOptions {
  /** Live changes that may wait for the watcher before it is cut off. */
  buffer?: number | undefined;
  /** Told at once when the watcher is cut off (its stream learns it when next read). */
  onCut?: ((error: WatchEndedError) => void) | undefined;
}

/**
 * Every agent's projection, in memory only: it is rebuilt from the agents after a restart.
 * Every change is numbered in the change log, so a list answered from here says which
 * revision it reflects and a watch can continue from exactly there. `index` is kept in step
 * with the maps, for paging and routing.
 */
export class Projection {
  private readonly agents = new Map<string, AgentProjection>();
  private readonly observers: Array<(agentId: string, event: Event) => void> = [];
  readonly index = new ProjectionIndex();

  constructor(
    private readonly changes: ChangeLog,
    private readonly view: EventView = (_agentId, event) => event,
  ) {}

  /** The coordinator revision: the newest change applied. */
  get revision(): number {
    return this.changes.newest;
  }

  get watchers(): number {
    return this.changes.watchers;
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
    for (const event of agent.replace(snapshot)) this.record(agentId, event);
  }

  apply(agentId: string, event: Event): ApplyOutcome {
    const agent = this.agents.get(agentId);
    if (!agent) return 'gap';
    const outcome = agent.apply(event);
    if (outcome === 'applied') {
      this.record(agentId, event);
      for (const observer of this.observers) observer(agentId, event);
    }
    return outcome;
  }

  /** Told of each agent event applied live (not of snapshots: they say what is, not what happened). */
  observe(observer: (agentId: string, event: Event) => void): void {
    this.observers.push(observer);
  }

  /** A group (the coordinator's own record) was made or changed: no agent's revision. */
  groupChanged(group: Group): void {
    this.changes.append('', { $case: 'group', value: group });
  }

  /** The agent linked, unlinked, described itself anew or changed status. */
  agentChanged(agent: Agent): void {
    this.changes.append(agent.id, { $case: 'agent', value: agent });
  }

  /**
   * Shows every session of the agent again, as events of type `type`: how its sessions
   * look depends on its status (UNKNOWN activity once it is unknown), and a watcher should
   * not have to re-derive that from the agent change.
   */
  reshowSessions(agentId: string, type: string): void {
    const agent = this.agents.get(agentId);
    if (!agent) return;
    const time = new Date();
    for (const session of agent.sessions.values()) {
      const event: Event = {
        revision: agent.appliedRevision,
        type,
        resource: `sessions/${session.id}`,
        time,
        deleted: false,
        payload: { $case: 'session', value: session },
      };
      this.changes.append(agentId, { $case: 'event', value: this.view(agentId, event) });
    }
  }

  /** The projection of this agent can no longer be trusted to be complete: the next link resyncs. */
  invalidate(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (agent) agent.synced = false;
  }

  subscribe(after: number, options: SubscribeOptions = {}): ChangeSubscription {
    return this.changes.subscribe(after, options.buffer, options.onCut);
  }

  watch(after: number, signal: AbortSignal, options: SubscribeOptions = {}): AsyncGenerator<Change> {
    return this.changes.watch(after, signal, options.buffer);
  }

  private record(agentId: string, event: Event): void {
    this.index.apply(agentId, event);
    this.changes.append(agentId, { $case: 'event', value: this.view(agentId, event) });
  }
}
