import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentStatus } from '../gen/grove/coordinator/v1/coordinator_service.js';
import { grove, groveLive } from './helpers/cli.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient, coordinatorClient } from './helpers/grpc.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

describe('grove watch --coordinator --on AGENT', () => {
  const tmp = tempDir();
  let coordinator: ServiceProcess;
  const agents: ServiceProcess[] = [];

  beforeAll(async () => {
    coordinator = await startCoordinatorProcess({ dataDir: join(tmp.path, 'coordinator') });
    for (const name of ['east', 'west']) {
      const agent = await startAgentProcess({
        dataDir: join(tmp.path, name),
        extraArgs: ['--coordinator', coordinator.address, '--name', name],
      });
      agents.push(agent);
      const { client, channel } = agentClient(agent.address);
      await client.addRepo({ path: makeRepo(join(tmp.path, `repo-${name}`)), name: `repo-${name}` });
      channel.close();
    }
    const { client, channel } = coordinatorClient(coordinator.address);
    await waitFor(async () => {
      const { agents: linked } = await client.listAgents({});
      const { repos } = await client.listRepos({});
      return linked.filter((a) => a.status === AgentStatus.AGENT_STATUS_CONNECTED).length === 2 && repos.length === 2 ? true : undefined;
    }, 'both agents and their repos');
    channel.close();
  });
  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    await coordinator?.stop();
    tmp.remove();
  });

  it("streams one agent's part of the projection, and refuses --on without --coordinator", async () => {
    // The snapshot (the agent, its repo, the end marker), then one live change.
    const watching = groveLive(['watch', '--coordinator', coordinator.address, '--on', 'west', '--json', '--limit', '4']);
    await waitFor(() => watching.stdout().includes('"snapshotDone":true') || undefined, 'the snapshot');
    // A change on the other agent first, then one on west: only west's reaches the watch.
    for (const [index, name] of [
      [0, 'east'],
      [1, 'west'],
    ] as const) {
      const { client, channel } = agentClient(agents[index]!.address);
      await client.addRepo({ path: makeRepo(join(tmp.path, `later-${name}`)), name: `later-${name}` });
      channel.close();
    }
    const run = await watching.done;
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { agentId?: string; agent?: { id: string }; event?: unknown; snapshotDone?: boolean });
    expect(lines).toHaveLength(4);
    const west = lines[0]!.agent!;
    expect(west).toMatchObject({ name: 'west' });
    expect(lines[1]!.event).toMatchObject({ type: 'repo.snapshot', repo: { name: 'repo-west' } });
    expect(lines[2]).toMatchObject({ snapshotDone: true });
    expect(lines[3]).toMatchObject({ agentId: west.id, event: { type: 'repo.added', repo: { name: 'later-west' } } });
    expect(lines.slice(0, 2).every((line) => line.agentId === west.id)).toBe(true);

    const refused = await grove(['watch', '--on', 'west']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--on AGENT goes with --coordinator/);
  });
});
