import { LinkState } from '../gen/grove/agent/v1/agent_service.js';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentStatus } from '../gen/grove/coordinator/v1/coordinator_service.js';
import { createAgentClient, createCoordinatorClient } from '../clients/sdk/index.js';
import { makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

describe('two agent processes with one agent id (a copied data dir)', () => {
  const tmp = tempDir();
  const processes: ServiceProcess[] = [];
  afterAll(async () => {
    for (const p of processes) await p.stop();
    tmp.remove();
  });

  it('refuses the second while the first is linked, and takes it once the first is gone', async () => {
    const coordinator = await startCoordinatorProcess({ dataDir: join(tmp.path, 'coordinator') });
    processes.push(coordinator);
    const coord = createCoordinatorClient({ address: coordinator.address });
    const link = ['--coordinator', coordinator.address, '--heartbeat', '200ms'];
    const dirA = join(tmp.path, 'a');
    let first = await startAgentProcess({ dataDir: dirA, extraArgs: [...link, '--name', 'first'] });
    const firstSdk = createAgentClient({ address: first.address });
    await firstSdk.addRepo({ path: makeRepo(join(tmp.path, 'alpha')), name: 'alpha' });
    firstSdk.close();
    await first.stop();
    cpSync(dirA, join(tmp.path, 'b'), { recursive: true });

    first = await startAgentProcess({ dataDir: dirA, extraArgs: [...link, '--name', 'first'] });
    processes.push(first);
    await waitFor(
      async () => (await coord.listAgents({})).agents.find((a) => a.status === AgentStatus.AGENT_STATUS_CONNECTED),
      'the first to link',
    );
    const second = await startAgentProcess({ dataDir: join(tmp.path, 'b'), extraArgs: [...link, '--name', 'second'] });
    processes.push(second);
    const secondSdk = createAgentClient({ address: second.address });
    // The second agent hears why it was refused (its link state), and is never registered.
    const refused = await waitFor(async () => {
      const link = (await secondSdk.getAgentInfo({})).link;
      return link?.state === LinkState.LINK_STATE_FAILING ? link : undefined;
    }, 'the second agent to be refused');
    expect(refused.lastError).toMatch(/is already linked from another process/);
    await secondSdk.addRepo({ path: makeRepo(join(tmp.path, 'beta')), name: 'beta' });
    // The first agent's heartbeats are applied while the second keeps being refused: its
    // state never mixes in, and the registry keeps the first one's name.
    const heartbeatsBefore = (await coord.getAgent({ agent: 'first' })).lastSeenTime!.getTime();
    await waitFor(
      async () => ((await coord.getAgent({ agent: 'first' })).lastSeenTime!.getTime() > heartbeatsBefore ? true : undefined),
      'a heartbeat',
    );
    expect((await coord.listRepos({})).repos.map((r) => r.repo!.name)).toEqual(['alpha']);
    expect((await coord.listAgents({})).agents.map((a) => a.name)).toEqual(['first']);

    await first.stop();
    await waitFor(async () => {
      const names = (await coord.listRepos({})).repos.map((r) => r.repo!.name).sort();
      return names.join() === 'alpha,beta' ? true : undefined;
    }, 'the second to take over with its own state');
    expect((await coord.listAgents({})).agents.map((a) => a.name)).toEqual(['second']);
    secondSdk.close();
    coord.close();
  });
});
