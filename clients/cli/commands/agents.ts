import { type Agent, agentStatusToJSON, ListAgentsResponse } from '@grove/sdk/proto/coordinator/v1/coordinator_service.js';
import type { CoordinatorClient } from '@grove/sdk';
import { expectPositionals, parseVerbArgs } from '../args.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { withCoordinator } from '../connect.js';
import { verbUsage } from '../help.js';
import { enumLabel, formatAge, formatLabels } from '../output/format.js';
import { formatJsonLine } from '../output/json.js';
import { formatTable } from '../output/table.js';
import { coordinatorTarget } from '../target.js';

/** Every page of ListAgents, with the revision of the first page. */
async function listAllAgents(coordinator: CoordinatorClient): Promise<ListAgentsResponse> {
  const first = await coordinator.listAgents({});
  const agents = [...first.agents];
  let token = first.nextPageToken;
  while (token) {
    const page = await coordinator.listAgents({ pageToken: token });
    agents.push(...page.agents);
    token = page.nextPageToken;
  }
  return { agents, nextPageToken: '', revision: first.revision };
}

const agentRow = (agent: Agent, now: Date) => [
  agent.name,
  agent.id,
  enumLabel(agentStatusToJSON(agent.status), 'AGENT_STATUS_'),
  formatLabels(agent.labels),
  formatAge(agent.lastSeenTime, now),
  // Running out of the agent's bound ("2/4"), or just running ("2") without one; then queued.
  `${agent.runningTasks}${agent.maxRunningTasks ? `/${agent.maxRunningTasks}` : ''} running, ${agent.queuedTasks} queued`,
  agent.freeDiskBytes > 0 ? formatGiB(agent.freeDiskBytes) : '-',
];

const formatGiB = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

const ls: Command = {
  path: ['agents', 'ls'],
  synopsis: 'agents ls',
  summary: 'list the agents the coordinator knows, with their status',
  usage: verbUsage(
    'agents ls',
    `Lists the agents known to the coordinator: CONNECTED, DISCONNECTED (within the grace
period) or UNKNOWN (not heard from within the TTL), when each was last heard from, and its
load: tasks running (out of its --max-running-tasks, when it has one) and queued, and the
free space on its worktree file system as its last heartbeat said. A full
agent is passed by when a selector or --spread chooses where work goes.`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {});
    expectPositionals('agents ls', positionals, []);
    const response = await withCoordinator(coordinatorTarget(values, io), listAllAgents);
    if (values.json) return io.outExact(formatJsonLine(ListAgentsResponse.toJSON(response)));
    if (response.agents.length === 0) return io.err('no agents\n');
    const now = new Date();
    io.out(
      formatTable([
        ['NAME', 'ID', 'STATUS', 'LABELS', 'LAST SEEN', 'LOAD', 'FREE DISK'],
        ...response.agents.map((agent) => agentRow(agent, now)),
      ]),
    );
  },
};

export const agentsCommands: readonly Command[] = [ls];
