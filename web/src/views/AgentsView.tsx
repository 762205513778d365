import { useNow } from '../hooks.js';
import { age, agentStatus, gib } from '../format.js';
import type { Live } from '../live.js';

export function AgentsView({ live }: { live: Live }) {
  const now = useNow();
  const agents = [...live.tables.agents.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (agents.length === 0) return <p className="empty">No agents have linked to this coordinator yet.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th>Agent</th>
          <th>Status</th>
          <th>Labels</th>
          <th>Last seen</th>
          <th>Load</th>
          <th>Free disk</th>
        </tr>
      </thead>
      <tbody>
        {agents.map((agent) => (
          <tr key={agent.id} data-testid="agent-row" data-agent={agent.name}>
            <td>
              {agent.name} <small>{agent.id}</small>
            </td>
            <td>
              <span className={`status ${agentStatus(agent).toLowerCase()}`} data-testid="agent-status">
                {agentStatus(agent)}
              </span>
            </td>
            <td>
              {Object.entries(agent.labels)
                .map(([k, v]) => `${k}=${v}`)
                .join(', ') || '-'}
            </td>
            <td>{age(agent.lastSeenTime, now)} ago</td>
            <td>
              {agent.runningTasks}
              {agent.maxRunningTasks ? `/${agent.maxRunningTasks}` : ''} running, {agent.queuedTasks} queued
            </td>
            <td>{gib(agent.freeDiskBytes)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
