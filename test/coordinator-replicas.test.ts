import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Status } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TaskState } from '../gen/grove/agent/v1/resources.js';
import { AgentStatus, GroupMemberState, type Group } from '../gen/grove/coordinator/v1/coordinator_service.js';
import { createCoordinatorClient, type CoordinatorClient } from '../clients/sdk/index.js';
import { grove, json } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient, expectStatus } from './helpers/grpc.js';
import { createDatabase, queryPostgres, startThrowawayPostgres, type ThrowawayPostgres } from './helpers/postgres.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { createSessionRequest } from './helpers/requests.js';
import { tempDir } from './helpers/temp.js';

// Each attempt leaves its own answer uncommitted and ends by itself.
const ATTEMPT = ['sh', '-c', 'echo "$GROVE_TASK_ID" > answer.txt; echo attempted'];
const AGENTS = ['left', 'right'] as const;

/**
 * A webhook receiver that takes a while to answer, so both replicas' delivery rounds overlap
 * on every row: only the lease keeps them from both sending it.
 */
class SlowReceiver {
  readonly deliveries: string[] = [];
  private server: Server | undefined;
  url = '';
  async up(): Promise<void> {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        this.deliveries.push(String(req.headers['x-grove-delivery']));
        setTimeout(() => res.writeHead(204).end(), 300);
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  }
  down(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

describe('coordinator replicas on one PostgreSQL', () => {
  const tmp = tempDir();
  const receiver = new SlowReceiver();
  let dbUrl = '';
  const addresses: string[] = [];
  const replicas: ServiceProcess[] = [];
  const agents: ServiceProcess[] = [];
  const clients: CoordinatorClient[] = [];
  const sessionIds: string[] = [];

  const startReplica = async (i: number) => {
    replicas[i] = await startCoordinatorProcess({
      dataDir: join(tmp.path, `replica-${i}`),
      listen: addresses[i],
      extraArgs: ['--db', dbUrl, '--heartbeat', '250ms', '--webhook', receiver.url, '--webhook-events', 'task.ended'],
    });
  };
  /** Both agents CONNECTED to replica `i`, each with its repo and session in its projection. */
  const seesFleet = (i: number) => async () => {
    const { agents: linked } = await clients[i]!.listAgents({});
    const { sessions } = await clients[i]!.listSessions({});
    const connected = linked.filter((a) => a.status === AgentStatus.AGENT_STATUS_CONNECTED).length;
    return connected === AGENTS.length && sessionIds.every((id) => sessions.some((s) => s.id === id)) ? sessions : undefined;
  };

  beforeAll(async () => {
    dbUrl = await createDatabase(inject('postgresUrl'));
    await receiver.up();
    for (let i = 0; i < 2; i++) addresses.push(`127.0.0.1:${await freePort()}`);
    // Both replicas start at once: the migrations run once, under an advisory lock.
    await Promise.all([startReplica(0), startReplica(1)]);
    for (const address of addresses) clients.push(createCoordinatorClient({ address }));
    for (const name of AGENTS) {
      const agent = await startAgentProcess({
        dataDir: join(tmp.path, `agent-${name}`),
        extraArgs: ['--coordinator', addresses.join(','), '--name', name, '--heartbeat', '250ms'],
      });
      agents.push(agent);
      const { client, channel } = agentClient(agent.address);
      const repo = (await client.addRepo({ path: makeRepo(join(tmp.path, `app-${name}`)), name: 'app' })).repo!;
      sessionIds.push((await client.createSession(createSessionRequest({ repoIds: [repo.id], branch: `own-${name}` }))).session!.id);
      channel.close();
    }
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    for (const agent of agents) await agent.stop();
    for (const replica of replicas) await replica?.stop();
    await receiver.down();
    tmp.remove();
  });

  it('each replica lists every agent and session, and an agent reports a link to each', async () => {
    for (const i of [0, 1]) {
      const sessions = await waitFor(seesFleet(i), `replica ${i} to see both agents' sessions`);
      expect(sessionIds.every((id) => sessions.some((s) => s.id === id))).toBe(true);
    }
    const { client, channel } = agentClient(agents[0]!.address);
    const info = await client.getAgentInfo({});
    channel.close();
    expect(info.links.map((link) => link.coordinator)).toEqual(addresses);
    expect(info.link?.coordinator).toBe(addresses.join(','));
  });

  it('a group made through one replica is served by the other, also once the first is SIGKILLed; each webhook is sent once', async () => {
    for (const i of [0, 1]) await waitFor(seesFleet(i), `replica ${i} to see the fleet`);
    const created = json<{ group: Group }>(
      await grove([
        'run',
        '--count',
        '2',
        '--spread',
        '--repo',
        'app',
        '--title',
        'two tries',
        '--json',
        '--coordinator',
        addresses[0]!,
        '--',
        ...ATTEMPT,
      ]),
    ).group;
    expect(created.members).toHaveLength(2);

    // The other replica knows the group from the shared database, and its members' live state
    // from its own links to the agents.
    const seenByOther = await waitFor(async () => {
      const group = await clients[1]!.getGroup({ id: created.id });
      return group.members.every((m) => m.taskState === TaskState.TASK_STATE_SUCCEEDED) ? group : undefined;
    }, 'both members to succeed, seen through the other replica');
    expect(seenByOther.members.map((m) => m.sessionId)).toEqual(created.members.map((m) => m.sessionId));
    expect((await grove(['group', 'ls', '--coordinator', addresses[1]!])).stdout).toMatch(new RegExp(`${created.id}\\s+two tries\\s+2/2`));

    // Both replicas saw both tasks end and wrote the same notification: one row each, sent once.
    const rows = await waitFor(async () => {
      const outbox = await queryPostgres<{ notification_id: string; delivered_at: Date | null }>(
        dbUrl,
        `select notification_id, delivered_at from webhook_outbox where type = 'task.ended'`,
      );
      return outbox.length === 2 && outbox.every((row) => row.delivered_at !== null) ? outbox : undefined;
    }, 'both task.ended notifications delivered');
    expect(rows.map((row) => row.notification_id).sort()).toEqual([...new Set(receiver.deliveries)].sort());
    expect(receiver.deliveries).toHaveLength(2);

    // The replica that made the group dies; the other answers for it and takes the pick.
    await replicas[0]!.kill();
    const [keep, other] = created.members;
    const picked = json<{ group: Group }>(
      await grove(['group', 'pick', created.id, keep!.sessionId, '--json', '--coordinator', addresses[1]!]),
    ).group;
    expect(picked.pickedSessionId).toBe(keep!.sessionId);
    expect(picked.members.find((m) => m.sessionId === other!.sessionId)?.state as unknown as string).toBe('GROUP_MEMBER_STATE_CLEANED_UP');

    // Restarted, the killed replica lost nothing: it reads the pick from the database.
    await startReplica(0);
    const again = await waitFor(async () => {
      const group = await clients[0]!.getGroup({ id: created.id }).catch(() => undefined);
      return group?.pickedSessionId ? group : undefined;
    }, 'the restarted replica to answer for the group');
    expect(again.pickedSessionId).toBe(keep!.sessionId);
    expect(again.members.find((m) => m.sessionId === keep!.sessionId)?.state).toBe(GroupMemberState.GROUP_MEMBER_STATE_PICKED);
    expect(receiver.deliveries).toHaveLength(2);
  });
});

describe('a coordinator whose PostgreSQL goes away', () => {
  const tmp = tempDir();
  let server: ThrowawayPostgres | undefined;
  let coordinator: ServiceProcess | undefined;
  afterAll(async () => {
    await coordinator?.stop();
    await server?.stop();
    tmp.remove();
  });

  it('answers UNAVAILABLE while the database is down, keeps serving what it holds, and recovers by itself', async () => {
    server = await startThrowawayPostgres();
    coordinator = await startCoordinatorProcess({ dataDir: join(tmp.path, 'coordinator'), extraArgs: ['--db', server.url] });
    const client = createCoordinatorClient({ address: coordinator.address });
    try {
      expect((await client.listGroups({})).groups).toEqual([]);
      await server.halt();
      const refused = await expectStatus(client.listGroups({}), Status.UNAVAILABLE, /the database cannot be reached now; retry/);
      expect(refused.details).not.toMatch(/select|postgres|ECONN/i);
      // The projection and registry are in memory: reads of the fleet go on.
      expect((await client.listAgents({})).agents).toEqual([]);
      await server.start();
      const back = await waitFor(() => client.listGroups({}).catch(() => undefined), 'the database to answer again');
      expect(back.groups).toEqual([]);
    } finally {
      client.close();
    }
  });
});
