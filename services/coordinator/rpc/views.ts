import { SessionActivity, TaskState, type Session } from '../../../gen/grove/agent/v1/resources.js';
import { AgentStatus, type Agent } from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import type { AgentRecord } from '../agents/agent-registry.js';
import type { AgentStatusName } from '../agents/agent-status.js';
import type { AgentProjection } from '../projection/agent-projection.js';

const STATUS_PROTO: Record<AgentStatusName, AgentStatus> = {
  connected: AgentStatus.AGENT_STATUS_CONNECTED,
  disconnected: AgentStatus.AGENT_STATUS_DISCONNECTED,
  unknown: AgentStatus.AGENT_STATUS_UNKNOWN,
};

export const toAgentStatusProto = (status: AgentStatusName): AgentStatus => STATUS_PROTO[status];

export function toAgentProto(record: AgentRecord, status: AgentStatusName, projection: AgentProjection | undefined): Agent {
  let runningTasks = 0;
  for (const task of projection?.tasks.values() ?? []) {
    if (task.state === TaskState.TASK_STATE_RUNNING) runningTasks++;
  }
  return {
    id: record.id,
    name: record.name,
    labels: record.labels,
    version: record.version,
    status: toAgentStatusProto(status),
    lastSeenTime: record.lastSeen,
    connectTime: record.connectedAt,
    appliedRevision: projection?.appliedRevision ?? 0,
    runningTasks,
  };
}

/**
 * A session as the coordinator shows it. What an unknown agent last said about its sessions
 * may be long stale: a session it called WORKING may have finished or died with the
 * machine, so its activity is UNKNOWN, with the time we last heard from the agent.
 */
export function toSessionView(session: Session, agent: AgentRecord, status: AgentStatusName): Session {
  const view: Session = { ...session, agentId: agent.id };
  if (status === 'unknown') {
    view.activity = SessionActivity.SESSION_ACTIVITY_UNKNOWN;
    view.lastSeenTime = agent.lastSeen;
  }
  return view;
}
