import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentStatus, type WatchResponse } from '../gen/grove/coordinator/v1/coordinator_service.js';
import {
  createAgentClient,
  createCoordinatorClient,
  type AgentClient,
  type CoordinatorClient,
  type ReconnectInfo,
} from '../clients/sdk/index.js';
import { makeRepo } from './helpers/git-repo.js';
import { sampleValue, scrape } from './helpers/metrics.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

describe('SDK coordinator watch', () => {
  const tmp = tempDir();
  let coordinator: ServiceProcess;
  let agent: ServiceProcess;
  let coord: CoordinatorClient;
  let agentSdk: AgentClient;

  beforeAll(async () => {
    coordinator = await startCoordinatorProcess({
      dataDir: join(tmp.path, 'coordinator'),
      extraArgs: ['--watch-buffer', '4', '--http', '127.0.0.1:0'],
    });
    agent = await startAgentProcess({
      dataDir: join(tmp.path, 'agent'),
      extraArgs: ['--coordinator', coordinator.address, '--name', 'solo'],
    });
    coord = createCoordinatorClient({ address: coordinator.address });
    agentSdk = createAgentClient({ address: agent.address });
    await waitFor(
      async () => (await coord.listAgents({})).agents.find((a) => a.status === AgentStatus.AGENT_STATUS_CONNECTED),
      'the agent to link',
    );
  });
  afterAll(async () => {
    coord?.close();
    agentSdk?.close();
    await agent?.stop();
    await coordinator?.stop();
    tmp.remove();
  });

  it('resumes after being cut off as a slow subscriber: every change once, in order', async () => {
    // A tiny HTTP/2 window makes "not reading" reach the coordinator after a few changes.
    const slowReader = createCoordinatorClient({ address: coordinator.address, channelOptions: { 'grpc-node.flow_control_window': 1024 } });
    const { revision } = await coord.listRepos({});
    const reconnects: ReconnectInfo[] = [];
    const controller = new AbortController();
    const changes = slowReader.watchChanges({
      fromRevision: revision,
      signal: controller.signal,
      backoff: { initialMs: 10, maxMs: 50 },
      onReconnect: (info) => reconnects.push(info),
    });
    const stream = changes[Symbol.asyncIterator]();
    const names: string[] = [];
    // Opens the stream; the consumer then reads nothing more while changes happen, until the
    // coordinator has cut it off (its 4-change buffer overflowed once the window filled).
    const first = stream.next();
    const cutOffs = async () =>
      sampleValue(await scrape(join(tmp.path, 'coordinator'), 'http-address'), 'grove_coordinator_watch_cutoffs_total') ?? 0;
    while ((await cutOffs()) === 0) {
      expect(names.length, 'the slow watcher was never cut off').toBeLessThan(300);
      const name = `r${names.length}`;
      await agentSdk.addRepo({ path: makeRepo(join(tmp.path, name)), name });
      names.push(name);
    }
    await waitFor(
      async () => ((await coord.listRepos({ pageSize: 1000 })).repos.length === names.length ? true : undefined),
      'the coordinator to apply every change',
    );

    const seen: WatchResponse[] = [];
    const opened = await first;
    if (!opened.done) seen.push(opened.value);
    const added = () => seen.filter((r) => r.change?.$case === 'event' && r.change.value.type === 'repo.added').length;
    while (added() < names.length) {
      const next = await stream.next();
      if (next.done) throw new Error('watch ended');
      seen.push(next.value);
    }
    controller.abort();
    slowReader.close();

    expect(reconnects.some((r) => r.error?.reason === 'SLOW_SUBSCRIBER')).toBe(true);
    const revisions = seen.map((r) => r.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(new Set(revisions).size).toBe(revisions.length);
    const repoNames = seen.flatMap((r) =>
      r.change?.$case === 'event' && r.change.value.payload?.$case === 'repo' ? [r.change.value.payload.value.name] : [],
    );
    expect(repoNames).toEqual(names);
  });
});
