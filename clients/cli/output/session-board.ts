import type { Session } from '@grove/sdk/proto/agent/v1/resources.js';
import { AgentStatus, type Agent, type WatchResponse } from '@grove/sdk/proto/coordinator/v1/coordinator_service.js';
import { formatAge } from './format.js';
import { sessionActivityLabel, sessionStateLabel } from './session-view.js';
import { formatTable } from './table.js';

/**
 * The coordinator's sessions as a table kept current from its Watch stream (a snapshot,
 * then changes): what `grove watch --coordinator` redraws on a terminal.
 */
export class SessionBoard {
  private readonly agents = new Map<string, Agent>();
  private readonly sessions = new Map<string, Session>();
  private revision = 0;
  /** The initial snapshot is complete: before that the table would flicker while it fills. */
  ready = false;

  apply(response: WatchResponse): void {
    this.revision = response.revision;
    if (response.snapshotDone) this.ready = true;
    const change = response.change;
    if (change?.$case === 'agent') this.agents.set(change.value.id, change.value);
    if (change?.$case !== 'event' || change.value.payload?.$case !== 'session') return;
    const session = change.value.payload.value;
    if (change.value.deleted) this.sessions.delete(session.id);
    else this.sessions.set(session.id, { ...session, agentId: session.agentId || response.agentId });
  }

  render(now: Date = new Date()): string {
    const agentName = (id: string) => this.agents.get(id)?.name || id;
    // An agent gone quiet cannot vouch for its sessions: say so rather than show stale activity.
    const activity = (session: Session) => {
      const agent = this.agents.get(session.agentId);
      return agent?.status === AgentStatus.AGENT_STATUS_UNKNOWN
        ? `UNKNOWN (agent seen ${formatAge(agent.lastSeenTime, now)})`
        : sessionActivityLabel(session);
    };
    const rows = [...this.sessions.values()]
      .sort((a, b) => agentName(a.agentId).localeCompare(agentName(b.agentId)) || a.id.localeCompare(b.id))
      .map((s) => [agentName(s.agentId), s.id, s.branch, sessionStateLabel(s), activity(s)]);
    const title = `grove watch: ${this.sessions.size} session(s) on ${this.agents.size} agent(s), revision ${this.revision} (Ctrl-C to stop)\n\n`;
    return title + formatTable([['AGENT', 'SESSION', 'BRANCH', 'STATE', 'ACTIVITY'], ...rows]);
  }
}
