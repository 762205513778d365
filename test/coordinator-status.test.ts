import { join } from 'node:path';
import { createChannel, createClient, type Channel } from 'nice-grpc';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AgentStatus,
  CoordinatorServiceDefinition,
  type Agent,
  type CoordinatorServiceClient,
} from '../gen/grove/coordinator/v1/coordinator_service.js';
import { SessionActivity, SessionState } from '../gen/grove/agent/v1/resources.js';
import { AgentServiceDefinition } from '../gen/grove/agent/v1/agent_service.js';
import { makeRepo } from './helpers/git-repo.js';
import { scrape } from './helpers/metrics.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

describe('coordinator agent status', () => {
  const tmp = tempDir();
  // Each test has a coordinator and an agent of its own, in directories of its own.
  let testDir = '';
  let tests = 0;
  const coordinatorDir = () => join(testDir, 'coordinator');
  const agentDir = () => join(testDir, 'agent');
  const channels: Channel[] = [];
  let coordinator: ServiceProcess | undefined;
  let agent: ServiceProcess | undefined;
  let client: CoordinatorServiceClient;

  const startCoordinator = async (grace: string, ttl: string) => {
    coordinator = await startCoordinatorProcess({
      dataDir: coordinatorDir(),
      extraArgs: ['--agent-grace', grace, '--agent-ttl', ttl, '--heartbeat', '200ms', '--http', '127.0.0.1:0'],
    });
    const channel = createChannel(coordinator.address);
    channels.push(channel);
    client = createClient(CoordinatorServiceDefinition, channel);
    return coordinator;
  };
  const startAgent = async () => {
    agent = await startAgentProcess({
      dataDir: agentDir(),
      extraArgs: ['--coordinator', coordinator!.address, '--name', 'beta'],
    });
    return agent;
  };
  const statusIs = (status: AgentStatus) => async (): Promise<Agent | undefined> => {
    const [found] = (await client.listAgents({})).agents;
    return found?.status === status ? found : undefined;
  };

  beforeEach(() => {
    testDir = join(tmp.path, `t${++tests}`);
  });
  afterEach(async () => {
    agent?.child.kill('SIGCONT');
    for (const channel of channels.splice(0)) channel.close();
    await agent?.stop();
    await coordinator?.stop();
    agent = coordinator = undefined;
  });
  afterAll(() => tmp.remove());

  it('is CONNECTED while heartbeats flow, DISCONNECTED once the agent stops, UNKNOWN after the TTL', async () => {
    await startCoordinator('1s', '2s');
    await startAgent();
    const { id: agentId } = await waitFor(statusIs(AgentStatus.AGENT_STATUS_CONNECTED), 'CONNECTED');
    // An idle agent stays CONNECTED well past the grace period: heartbeats keep it alive.
    const watchUntil = Date.now() + 1500;
    while (Date.now() < watchUntil) {
      expect((await client.getAgent({ agent: agentId })).status).toBe(AgentStatus.AGENT_STATUS_CONNECTED);
      await new Promise((r) => setTimeout(r, 100));
    }

    // A session on the agent, seen through the coordinator with the agent's reported activity.
    const agentChannel = createChannel(agent!.address);
    channels.push(agentChannel);
    const agentClient = createClient(AgentServiceDefinition, agentChannel);
    const { repo } = await agentClient.addRepo({ path: makeRepo(join(tmp.path, 'repos', 'app')), name: 'app' });
    const { session } = await agentClient.createSession({ repoIds: [repo!.id], branch: 'feature-x', base: 'main', title: 't' });
    const listed = await waitFor(async () => (await client.listSessions({ agent: 'beta' })).sessions[0], 'the session');
    expect(listed).toMatchObject({ id: session!.id, agentId, activity: SessionActivity.SESSION_ACTIVITY_IDLE });
    expect(listed.lastSeenTime).toBeUndefined();
    expect((await client.listSessions({ repo: 'app', state: SessionState.SESSION_STATE_ACTIVE })).sessions).toHaveLength(1);
    expect((await client.listSessions({ state: SessionState.SESSION_STATE_ARCHIVED })).sessions).toHaveLength(0);

    await agent!.stop();
    const stoppedAt = Date.now();
    const disconnected = await waitFor(statusIs(AgentStatus.AGENT_STATUS_DISCONNECTED), 'DISCONNECTED', 3000);
    expect(Math.abs(disconnected.lastSeenTime!.getTime() - stoppedAt)).toBeLessThan(1000);
    // A clean stop ends the link itself: the coordinator did not have to notice the silence.
    const unlinked = await waitFor(async () => {
      const agent = await client.getAgent({ agent: agentId });
      return agent.linkEnded ? agent : undefined;
    }, 'the unlink');
    expect(unlinked.linkEnded).toBe('agent ended the link');

    const unknown = await waitFor(statusIs(AgentStatus.AGENT_STATUS_UNKNOWN), 'UNKNOWN', 5000);
    expect(Date.now() - unknown.lastSeenTime!.getTime()).toBeGreaterThanOrEqual(2000);
    expect(unknown.lastSeenTime).toEqual(disconnected.lastSeenTime);
    // What an unknown agent last said about its sessions is not trusted: activity UNKNOWN.
    const stale = await client.getSession({ id: session!.id });
    expect(stale).toMatchObject({ activity: SessionActivity.SESSION_ACTIVITY_UNKNOWN, lastSeenTime: unknown.lastSeenTime });
    expect((await client.listSessions({})).sessions.map((s) => s.activity)).toEqual([SessionActivity.SESSION_ACTIVITY_UNKNOWN]);
    expect((await client.listAgents({ status: AgentStatus.AGENT_STATUS_CONNECTED })).agents).toEqual([]);
    expect((await client.listAgents({ status: AgentStatus.AGENT_STATUS_UNKNOWN })).agents.map((a) => a.id)).toEqual([agentId]);
  });

  it('keeps the registry across a coordinator restart, deriving status from the persisted last-seen', async () => {
    await startCoordinator('1s', '2s');
    await startAgent();
    const { id: agentId } = await waitFor(statusIs(AgentStatus.AGENT_STATUS_CONNECTED), 'CONNECTED');
    await agent!.stop();
    await waitFor(async () => (await client.getAgent({ agent: agentId })).linkEnded || undefined, 'the unlink');
    await waitFor(statusIs(AgentStatus.AGENT_STATUS_UNKNOWN), 'UNKNOWN past the TTL');
    const before = await client.getAgent({ agent: agentId });
    await coordinator!.kill();
    // A longer TTL after the restart: the same last-seen now derives DISCONNECTED...
    await startCoordinator('1s', '60s');
    const [again] = (await client.listAgents({})).agents;
    expect(again).toMatchObject({ id: agentId, name: 'beta', status: AgentStatus.AGENT_STATUS_DISCONNECTED });
    expect(again!.lastSeenTime).toEqual(before.lastSeenTime);
    await coordinator!.stop();
    // ...and with the short one, UNKNOWN, until the agent links again.
    await startCoordinator('1s', '2s');
    expect((await client.getAgent({ agent: 'beta' })).status).toBe(AgentStatus.AGENT_STATUS_UNKNOWN);
    await startAgent();
    const relinked = await waitFor(statusIs(AgentStatus.AGENT_STATUS_CONNECTED), 'CONNECTED after relinking');
    expect(relinked.id).toBe(agentId);
    expect(relinked.lastSeenTime!.getTime()).toBeGreaterThan(before.lastSeenTime!.getTime());
  });

  it('demotes a frozen agent whose link is still open, and ends that link so the agent redials', async () => {
    await startCoordinator('1s', '2s');
    await startAgent();
    const { id: agentId } = await waitFor(statusIs(AgentStatus.AGENT_STATUS_CONNECTED), 'CONNECTED');
    agent!.child.kill('SIGSTOP');
    try {
      await waitFor(statusIs(AgentStatus.AGENT_STATUS_DISCONNECTED), 'DISCONNECTED while frozen', 5000);
      await waitFor(
        async () => (await client.getAgent({ agent: agentId })).linkEnded === 'silent past the grace period' || undefined,
        'the silent link to be ended',
      );
    } finally {
      agent!.child.kill('SIGCONT');
    }
    await waitFor(statusIs(AgentStatus.AGENT_STATUS_CONNECTED), 'CONNECTED after thawing');
    // Exactly one redial: the coordinator accepted two links from the agent in all.
    const metrics = await scrape(coordinatorDir(), 'http-address');
    const joins = metrics.filter((s) => s.name === 'grove_coordinator_link_joins_total').reduce((sum, s) => sum + s.value, 0);
    expect(joins).toBe(2);
  });
});
