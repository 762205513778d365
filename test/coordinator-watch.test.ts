import { join } from 'node:path';
import { createChannel, createClient, Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentServiceDefinition, type AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import {
  AgentStatus,
  CoordinatorServiceDefinition,
  type CoordinatorServiceClient,
  type WatchResponse,
} from '../gen/grove/coordinator/v1/coordinator_service.js';
import { makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

/** Reads a watch until `done` says so, failing after a deadline rather than hanging. */
async function readUntil(
  stream: AsyncIterator<WatchResponse>,
  done: (seen: WatchResponse[]) => boolean,
  timeoutMs = 45_000,
): Promise<WatchResponse[]> {
  const seen: WatchResponse[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done(seen)) {
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([
      stream.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`watch stalled; saw ${JSON.stringify(seen.map(label))}`)), deadline - Date.now());
      }),
    ]).finally(() => clearTimeout(timer));
    if (next.done) throw new Error('watch ended');
    seen.push(next.value);
  }
  return seen;
}

/** A watch response in a word, for readable assertions. */
function label(r: WatchResponse): string {
  if (r.snapshotDone) return 'snapshot_done';
  if (r.change?.$case === 'agent') return `agent:${AgentStatus[r.change.value.status]}`;
  if (r.change?.$case === 'event') return `${r.change.value.type}${r.change.value.deleted ? ':deleted' : ''}`;
  return '?';
}
describe('coordinator watch', () => {
  const tmp = tempDir();
  const coordinatorDir = join(tmp.path, 'coordinator');
  const channels: Channel[] = [];
  const watches: AbortController[] = [];
  let coordinator: ServiceProcess | undefined;
  let agent: ServiceProcess | undefined;
  let client: CoordinatorServiceClient;
  let agentClient: AgentServiceClient;
  let agentId: string;

  const connect = (address: string) => {
    const channel = createChannel(address);
    channels.push(channel);
    return channel;
  };
  const watch = (request: Parameters<CoordinatorServiceClient['watch']>[0]) => {
    const controller = new AbortController();
    watches.push(controller);
    return client.watch(request, { signal: controller.signal })[Symbol.asyncIterator]();
  };

  beforeAll(async () => {
    coordinator = await startCoordinatorProcess({ dataDir: coordinatorDir, extraArgs: ['--heartbeat', '200ms'] });
    client = createClient(CoordinatorServiceDefinition, connect(coordinator.address));
    agent = await startAgentProcess({
      dataDir: join(tmp.path, 'agent'),
      extraArgs: ['--coordinator', coordinator.address, '--name', 'delta'],
    });
    agentClient = createClient(AgentServiceDefinition, connect(agent.address));
    agentId = (await agentClient.getAgentInfo({})).id;
    await agentClient.addRepo({ path: makeRepo(join(tmp.path, 'repos', 'one')), name: 'one' });
    await waitFor(async () => (await client.listRepos({})).repos.length === 1 || undefined, 'the first repo');
  });
  afterAll(async () => {
    for (const controller of watches) controller.abort();
    for (const channel of channels) channel.close();
    await agent?.stop();
    await coordinator?.stop();
    tmp.remove();
  });

  it('streams the changes after a list revision, with the owning agent', async () => {
    const { revision } = await client.listRepos({});
    expect((await client.listAgents({})).revision).toBe(revision);
    const stream = watch({ fromRevision: revision });
    const { repo } = await agentClient.addRepo({ path: makeRepo(join(tmp.path, 'repos', 'two')), name: 'two' });
    await agentClient.removeRepo({ id: 'two' });
    const seen = await readUntil(stream, (s) => s.length >= 2);
    expect(seen.map(label)).toEqual(['repo.added', 'repo.removed:deleted']);
    expect(seen.map((r) => r.agentId)).toEqual([agentId, agentId]);
    expect(seen[0]!.revision).toBe(revision + 1);
    expect(seen[1]!.revision).toBe(revision + 2);
    const first = seen[0]!.change;
    expect(first?.$case === 'event' && first.value.payload?.$case === 'repo' && first.value.payload.value.id).toBe(repo!.id);
  });

  it('starts with the current state when asked for an initial snapshot', async () => {
    const seen = await readUntil(watch({ initialSnapshot: true }), (s) => s.some((r) => r.snapshotDone));
    expect(seen.map(label)).toEqual(['agent:AGENT_STATUS_CONNECTED', 'repo.snapshot', 'snapshot_done']);
    const { revision } = await client.listAgents({});
    expect(seen.every((r) => r.revision === revision)).toBe(true);
    // Filtered to an agent that does not exist, the snapshot is empty.
    const none = await readUntil(watch({ initialSnapshot: true, agent: 'nobody' }), (s) => s.some((r) => r.snapshotDone));
    expect(none.map(label)).toEqual(['snapshot_done']);
  });

  it('reports the agent going away, and refuses revisions from before a coordinator restart', async () => {
    const { revision } = await client.listAgents({});
    const stream = watch({ fromRevision: revision, agent: 'delta' });
    await agent!.stop();
    const seen = await readUntil(stream, (s) => s.some((r) => label(r) === 'agent:AGENT_STATUS_DISCONNECTED'));
    expect(seen.every((r) => r.agentId === agentId)).toBe(true);

    await coordinator!.stop();
    coordinator = await startCoordinatorProcess({ dataDir: coordinatorDir, extraArgs: ['--heartbeat', '200ms'] });
    client = createClient(CoordinatorServiceDefinition, connect(coordinator.address));
    await expect(readUntil(watch({ fromRevision: revision }), () => false)).rejects.toMatchObject({
      code: Status.OUT_OF_RANGE,
    });
    expect((await client.listAgents({})).revision).toBeGreaterThan(revision);
  });
});
