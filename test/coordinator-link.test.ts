import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createChannel, createClient, type Channel } from 'nice-grpc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentInfo, AgentServiceDefinition, type AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import {
  AgentStatus,
  CoordinatorServiceDefinition,
  type CoordinatorServiceClient,
} from '../gen/grove/coordinator/v1/coordinator_service.js';
import { makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The repos the coordinator projects for one agent, as sorted `name=path` pairs. */
async function projectedRepos(client: CoordinatorServiceClient, agent: string): Promise<string[]> {
  const { repos } = await client.listRepos({ agent });
  return repos.map((r) => `${r.repo?.name}=${r.repo?.path}`).sort();
}

async function agentRepos(client: AgentServiceClient): Promise<string[]> {
  const { repos } = await client.listRepos({});
  return repos.map((r) => `${r.name}=${r.path}`).sort();
}

/** A coordinator process on a port of its own, and an agent, alpha, that links to it. */
interface Pair {
  dir: string;
  port: number;
  coordinatorAddress: string;
  coordinator?: ServiceProcess;
  agent?: ServiceProcess;
  agentId: string;
  agentClient: AgentServiceClient;
  client: CoordinatorServiceClient;
  channels: Channel[];
}

/** Nothing started yet: the coordinator's address is chosen and a client made for it. */
async function newPair(dir: string): Promise<Pair> {
  const port = await freePort();
  const coordinatorAddress = `127.0.0.1:${port}`;
  const channel = createChannel(coordinatorAddress);
  return {
    dir,
    port,
    coordinatorAddress,
    agentId: '',
    agentClient: undefined as unknown as AgentServiceClient,
    client: createClient(CoordinatorServiceDefinition, channel),
    channels: [channel],
  };
}

async function startCoordinator(pair: Pair): Promise<void> {
  pair.coordinator = await startCoordinatorProcess({
    dataDir: join(pair.dir, 'coordinator'),
    extraArgs: ['--listen', `127.0.0.1:${pair.port}`, '--heartbeat', '200ms', '--agent-grace', '2s', '--agent-ttl', '10s'],
  });
}

/** The agent, set to link to the pair's coordinator, and agentClient talking to it. */
async function startLinkedAgent(pair: Pair): Promise<void> {
  pair.agent = await startAgentProcess({
    dataDir: join(pair.dir, 'agent'),
    extraArgs: ['--coordinator', pair.coordinatorAddress, '--name', 'alpha', '--labels', 'team=core,zone=eu', '--event-retention', '3'],
  });
  const agentChannel = createChannel(pair.agent.address);
  pair.channels.push(agentChannel);
  pair.agentClient = createClient(AgentServiceDefinition, agentChannel);
  pair.agentId = (await pair.agentClient.getAgentInfo({})).id;
}

/** Both up and linked, with `repos` (name -> directory) added and applied by the coordinator. */
async function linkedPair(dir: string, repos: Record<string, string>): Promise<Pair> {
  const pair = await newPair(dir);
  await Promise.all([startCoordinator(pair), startLinkedAgent(pair)]);
  for (const [name, directory] of Object.entries(repos)) {
    await pair.agentClient.addRepo({ path: makeRepo(join(dir, 'repos', directory)), name });
  }
  const expected = await agentRepos(pair.agentClient);
  await waitFor(
    async () => JSON.stringify(await projectedRepos(pair.client, pair.agentId)) === JSON.stringify(expected) || undefined,
    'the repos projected',
  );
  const info = await pair.agentClient.getAgentInfo({});
  await waitFor(
    async () => (await pair.client.getAgent({ agent: pair.agentId })).appliedRevision === info.revision || undefined,
    'applied revision',
  );
  return pair;
}

async function stopPair(pair: Pair | undefined): Promise<void> {
  if (!pair) return;
  for (const channel of pair.channels) channel.close();
  await pair.agent?.stop();
  await pair.coordinator?.stop();
}

describe('coordinator link: registry, projection, coordinator restarts', () => {
  const tmp = tempDir();
  /** For the tests that leave it as they found it: alpha linked, with repos `before` and `later`. */
  let shared: Pair | undefined;
  /** A test's own, for one that starts, kills or restarts its services. */
  let own: Pair | undefined;

  beforeAll(async () => {
    shared = await linkedPair(join(tmp.path, 'shared'), { before: 'before', later: 'after' });
  });
  afterEach(async () => {
    await stopPair(own);
    own = undefined;
  });
  afterAll(async () => {
    await stopPair(shared);
    tmp.remove();
  });

  it('links an agent that started before the coordinator, with its name, labels and repos', async () => {
    own = await newPair(join(tmp.path, 'first-link'));
    const { client } = own;
    // The coordinator is not up yet: the agent must keep redialling until it is.
    await startLinkedAgent(own);
    const { agentClient, agentId } = own;
    await agentClient.addRepo({ path: makeRepo(join(own.dir, 'repos', 'before')), name: '' });

    await startCoordinator(own);
    const linked = await waitFor(async () => {
      const { agents } = await client.listAgents({});
      return agents[0]?.status === AgentStatus.AGENT_STATUS_CONNECTED ? agents : undefined;
    }, 'the agent to show CONNECTED');
    expect(linked).toHaveLength(1);
    expect(linked[0]).toMatchObject({ id: agentId, name: 'alpha', labels: { team: 'core', zone: 'eu' } });
    expect(Date.now() - linked[0]!.lastSeenTime!.getTime()).toBeLessThan(5000);
    expect(linked[0]!.connectTime).toBeInstanceOf(Date);

    // The repo added before the link arrived in the snapshot...
    await waitFor(async () => (await projectedRepos(client, agentId)).length === 1 || undefined, 'the first repo');
    // ...and one added afterwards arrives as a live event.
    const after = makeRepo(join(own.dir, 'repos', 'after'));
    await agentClient.addRepo({ path: after, name: 'later' });
    await waitFor(async () => (await projectedRepos(client, 'alpha')).length === 2 || undefined, 'the second repo');
    expect(await projectedRepos(client, agentId)).toEqual(await agentRepos(agentClient));
    const { repos } = await client.listRepos({});
    expect(repos.every((r) => r.agentId === agentId)).toBe(true);

    const info = await agentClient.getAgentInfo({});
    await waitFor(
      async () => (await client.getAgent({ agent: 'alpha' })).appliedRevision === info.revision || undefined,
      'applied revision',
    );
  });

  it('filters and pages agents, and answers NOT_FOUND for an agent it never saw', async () => {
    const { client, agentId } = shared!;
    expect((await client.listAgents({ labelSelector: 'team=core' })).agents.map((a) => a.id)).toEqual([agentId]);
    expect((await client.listAgents({ labelSelector: 'team=other' })).agents).toEqual([]);
    expect((await client.listAgents({ status: AgentStatus.AGENT_STATUS_UNKNOWN })).agents).toEqual([]);
    expect((await client.getAgent({ agent: agentId })).name).toBe('alpha');
    await expect(client.getAgent({ agent: 'nobody' })).rejects.toMatchObject({ code: 5 });
    const paged = await client.listRepos({ pageSize: 1 });
    expect(paged.repos).toHaveLength(1);
    expect(paged.nextPageToken).not.toBe('');
    const rest = await client.listRepos({ pageSize: 1, pageToken: paged.nextPageToken });
    expect(rest.repos).toHaveLength(1);
    expect(rest.repos[0]!.repo!.id).not.toBe(paged.repos[0]!.repo!.id);
    expect(rest.nextPageToken).toBe('');
    // The same agent through the coordinator: routed over its link.
    const routed = await client.route({ agent: 'alpha', method: 'GetAgentInfo' });
    expect(routed.agentId).toBe(agentId);
    expect(AgentInfo.decode(routed.response)).toMatchObject({ id: agentId, name: 'alpha' });
  });

  it('removing a repo on the agent removes it from the projection', async () => {
    const { client, agentClient, agentId } = shared!;
    // A repo of its own to remove, so the shared agent is left with the repos it had.
    await agentClient.addRepo({ path: makeRepo(join(shared!.dir, 'repos', 'doomed')), name: 'doomed' });
    const isDoomed = (repo: string) => repo.startsWith('doomed=');
    await waitFor(async () => (await projectedRepos(client, agentId)).some(isDoomed) || undefined, 'the repo to remove');
    await agentClient.removeRepo({ id: 'doomed' });
    await waitFor(async () => !(await projectedRepos(client, agentId)).some(isDoomed) || undefined, 'the removal');
    expect(await projectedRepos(client, agentId)).toEqual(await agentRepos(agentClient));
  });

  it('after a coordinator crash and restart on the same port, the agent relinks and the projection is rebuilt', async () => {
    own = await linkedPair(join(tmp.path, 'crash'), { before: 'before' });
    const { client, agentClient, agentId } = own;
    await own.coordinator!.kill();
    // While the coordinator is down the agent keeps changing, past its event retention (3).
    for (const name of ['c1', 'c2', 'c3', 'c4']) {
      await agentClient.addRepo({ path: makeRepo(join(own.dir, 'repos', name)), name });
    }
    await agentClient.removeRepo({ id: 'c2' });
    await startCoordinator(own);
    // The registry survived the crash: the agent is listed before it relinks.
    const { agents } = await client.listAgents({});
    expect(agents.map((a) => a.name)).toEqual(['alpha']);
    await waitFor(async () => {
      const agent = await client.getAgent({ agent: agentId });
      return agent.status === AgentStatus.AGENT_STATUS_CONNECTED || undefined;
    }, 'the agent to relink');
    const expected = await agentRepos(agentClient);
    expect(expected).toHaveLength(4);
    await waitFor(
      async () => JSON.stringify(await projectedRepos(client, agentId)) === JSON.stringify(expected) || undefined,
      'the rebuilt projection',
    );
  });

  it('resyncs with a snapshot when the events it lacks were compacted while the agent was away', async () => {
    own = await linkedPair(join(tmp.path, 'resync'), { before: 'before', c1: 'c1', c3: 'c3', c4: 'c4' });
    const { client, agentClient, agentId } = own;
    // The coordinator keeps its projection; the agent changes unlinked beyond its retention.
    const before = await agentRepos(agentClient);
    await own.agent!.stop();
    const agentDir = join(own.dir, 'agent');
    const unlinkedAgent = await startAgentProcess({ dataDir: agentDir, extraArgs: ['--name', 'alpha', '--event-retention', '3'] });
    own.agent = unlinkedAgent;
    const unlinkedChannel = createChannel(unlinkedAgent.address);
    own.channels.push(unlinkedChannel);
    const unlinked = createClient(AgentServiceDefinition, unlinkedChannel);
    await unlinked.removeRepo({ id: 'c1' });
    await unlinked.removeRepo({ id: 'c3' });
    for (const name of ['d1', 'd2']) await unlinked.addRepo({ path: makeRepo(join(own.dir, 'repos', name)), name });
    const expected = await agentRepos(unlinked);
    await unlinkedAgent.stop();
    // The stale projection is still served while the agent is away.
    expect(await projectedRepos(client, agentId)).toEqual(before);

    own.agent = await startAgentProcess({
      dataDir: agentDir,
      extraArgs: ['--coordinator', own.coordinatorAddress, '--name', 'alpha', '--labels', 'team=core', '--event-retention', '3'],
    });
    await waitFor(
      async () => JSON.stringify(await projectedRepos(client, agentId)) === JSON.stringify(expected) || undefined,
      'the resynced projection',
    );
    expect((await client.getAgent({ agent: agentId })).linkJoined).toBe('compacted');
    // What the agent says about itself is refreshed by its Hello.
    expect((await client.getAgent({ agent: agentId })).labels).toEqual({ team: 'core' });
  });
});
