import { SessionActivity, type Event, type Session } from '../../../gen/grove/agent/v1/resources.js';
import { AgentStatus, type Agent } from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import type { AgentRecord } from '../agents/agent-registry.js';
import type { AgentStatusName } from '../agents/agent-status.js';

const STATUS_PROTO: Record<AgentStatusName, AgentStatus> = {
  connected: AgentStatus.AGENT_STATUS_CONNECTED,
  disconnected: AgentStatus.AGENT_STATUS_DISCONNECTED,
  unknown: AgentStatus.AGENT_STATUS_UNKNOWN,
};

export const toAgentStatusProto = (status: AgentStatusName): AgentStatus => STATUS_PROTO[status];

/** What the projection says about an agent beside its registry record. */
export interface AgentLoad {
  appliedRevision: number;
  runningTasks: number;
  queuedTasks: number;
}

export function toAgentProto(record: AgentRecord, status: AgentStatusName, load: AgentLoad): Agent {
  return {
    id: record.id,
    name: record.name,
    labels: record.labels,
    version: record.version,
    status: toAgentStatusProto(status),
    lastSeenTime: record.lastSeen,
    connectTime: record.connectedAt,
    appliedRevision: load.appliedRevision,
    runningTasks: load.runningTasks,
    maxRunningTasks: record.maxRunningTasks,
    queuedTasks: load.queuedTasks,
    freeDiskBytes: record.freeDiskBytes,
    linkJoined: record.linkJoined,
    linkEnded: record.linkEnded,
  };
}

/**
 * A session as the coordinator shows it. What an agent that is not connected last said
 * about its sessions may already be stale (a partition, a crash): a session it called
 * WORKING may have finished or died with the machine, so its activity is UNKNOWN, with the
 * time we last heard from the agent, from the moment its link is down (DISCONNECTED) and on
 * (UNKNOWN). The same holds while the agent's projection is not synced (relinked, its
 * snapshot or backlog not applied yet): what it shows is from before the gap.
 */
export function toSessionView(session: Session, agent: AgentRecord, status: AgentStatusName, synced = true): Session {
  const view: Session = { ...session, agentId: agent.id };
  if (status !== 'connected' || !synced) {
    view.activity = SessionActivity.SESSION_ACTIVITY_UNKNOWN;
    view.lastSeenTime = agent.lastSeen;
  }
  return view;
}

/** An agent's event as the coordinator shows it: owned by the agent, sessions as listed. */
export function toEventView(event: Event, agent: AgentRecord, status: AgentStatusName): Event {
  const payload = event.payload;
  switch (payload?.$case) {
    case 'session':
      return { ...event, payload: { $case: 'session', value: toSessionView(payload.value, agent, status) } };
    case 'task':
      return { ...event, payload: { $case: 'task', value: { ...payload.value, agentId: agent.id } } };
    case 'job':
      return { ...event, payload: { $case: 'job', value: { ...payload.value, agentId: agent.id } } };
    default:
      return event;
  }
}
