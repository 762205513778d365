import { join } from 'node:path';
import { createChannel, createClient, Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddRepoRequest,
  AddRepoResponse,
  AgentInfo,
  AgentServiceDefinition,
  GetAgentInfoRequest,
  GetRepoRequest,
  WatchEventsRequest,
} from '../gen/grove/agent/v1/agent_service.js';
import { createLogger } from '../services/common/logging.js';
import { startCoordinator, type RunningCoordinator } from '../services/coordinator/coordinator.js';
import { CommandAuditSchema } from '../services/coordinator/store/entities.js';
import { initOrm } from '../services/coordinator/store/orm.js';
import { makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

// The coordinator runs in-process so the test can call sendCommand directly, as routing
// will; the agent is a real process at the far end of a real link.
describe('commands over the link', () => {
  const tmp = tempDir();
  const coordinatorDir = join(tmp.path, 'coordinator');
  const log = createLogger({ level: process.env.GROVE_LOG_LEVEL === 'debug' ? 'debug' : 'silent' });
  let coordinator: RunningCoordinator | undefined;
  let agent: ServiceProcess | undefined;
  let channel: Channel | undefined;
  let agentId: string;

  beforeAll(async () => {
    coordinator = await startCoordinator({ listen: '127.0.0.1:0', dataDir: coordinatorDir, heartbeatMs: 200, log });
    agent = await startAgentProcess({
      dataDir: join(tmp.path, 'agent'),
      extraArgs: ['--coordinator', coordinator.address, '--name', 'gamma'],
    });
    channel = createChannel(agent.address);
    agentId = (await createClient(AgentServiceDefinition, channel).getAgentInfo({})).id;
    await waitFor(() => coordinator!.links.isOpen(agentId) || undefined, 'the agent to link');
  });
  afterAll(async () => {
    agent?.child.kill('SIGCONT');
    channel?.close();
    await agent?.kill();
    await coordinator?.close();
    tmp.remove();
  });

  const send = (method: string, request: Uint8Array, deadlineMs = 5000) =>
    coordinator!.links.sendCommand(agentId, method, request, deadlineMs);

  it('runs a unary method on the agent and answers its encoded response', async () => {
    const result = await send('GetAgentInfo', GetAgentInfoRequest.encode({}).finish());
    expect(result.code).toBe(Status.OK);
    const info = AgentInfo.decode(result.response);
    expect(info).toMatchObject({ id: agentId, name: 'gamma' });
  });

  it('changes made by a command reach the projection through the event stream', async () => {
    const path = makeRepo(join(tmp.path, 'repos', 'routed'));
    const result = await send('AddRepo', AddRepoRequest.encode({ path, name: 'routed', keepIgnored: [] }).finish());
    expect(result.code).toBe(Status.OK);
    const { repo } = AddRepoResponse.decode(result.response);
    expect(repo).toMatchObject({ name: 'routed', path });
    await waitFor(() => coordinator!.projection.of(agentId)?.repos.get(repo!.id), 'the routed repo in the projection');
  });

  it('relays the agent errors with their code, reason and message', async () => {
    const missing = await send('GetRepo', GetRepoRequest.encode({ id: 'no-such-repo' }).finish());
    expect(missing).toMatchObject({ code: Status.NOT_FOUND, reason: 'REPO_NOT_FOUND' });
    expect(missing.message).toContain('no-such-repo');
    expect(missing.response).toHaveLength(0);

    const invalid = await send(
      'AddRepo',
      AddRepoRequest.encode({ path: join(tmp.path, 'not-a-repo'), name: '', keepIgnored: [] }).finish(),
    );
    expect(invalid.code).not.toBe(Status.OK);
    expect(invalid.reason).not.toBe('');

    const streaming = await send('WatchEvents', WatchEventsRequest.encode({ afterRevision: 0 }).finish());
    expect(streaming).toMatchObject({ code: Status.UNIMPLEMENTED, reason: 'STREAMING_NOT_ROUTABLE' });
    const unknown = await send('LaunchMissiles', new Uint8Array());
    expect(unknown).toMatchObject({ code: Status.UNIMPLEMENTED, reason: 'UNKNOWN_METHOD' });
    // A length-delimited field that claims more bytes than there are.
    const garbage = await send('GetRepo', Uint8Array.from([0x0a, 0x05, 0x61]));
    expect(garbage).toMatchObject({ code: Status.INVALID_ARGUMENT, reason: 'BAD_COMMAND_REQUEST' });
  });

  it('fails fast with UNAVAILABLE for an agent without a link', async () => {
    await expect(coordinator!.links.sendCommand('agt_nobody', 'GetAgentInfo', new Uint8Array(), 5000)).rejects.toMatchObject({
      code: Status.UNAVAILABLE,
      reason: 'AGENT_NOT_CONNECTED',
    });
  });

  it('fails a pending command with UNAVAILABLE when the link drops, and new ones fast', async () => {
    // Frozen, the agent cannot answer; killed, its link drops under the waiting command.
    agent!.child.kill('SIGSTOP');
    const pending = send('GetAgentInfo', GetAgentInfoRequest.encode({}).finish(), 20_000);
    const settled = pending.then(
      () => 'resolved',
      (err: { code?: number; reason?: string }) => err,
    );
    await waitFor(() => (coordinator!.links.get(agentId)?.pendingCommands ?? 0) > 0 || undefined, 'the command to be in flight');
    const started = Date.now();
    await agent!.kill();
    expect(await settled).toMatchObject({ code: Status.UNAVAILABLE, reason: 'LINK_CLOSED' });
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(send('GetAgentInfo', GetAgentInfoRequest.encode({}).finish())).rejects.toMatchObject({
      code: Status.UNAVAILABLE,
    });
  });

  it('audits every command sent, with how it ended', async () => {
    await coordinator!.close();
    coordinator = undefined;
    const orm = await initOrm(coordinatorDir, log);
    try {
      const rows = await orm.em.fork().find(CommandAuditSchema, {}, { orderBy: { id: 'asc' } });
      const summary = rows.map((row) => [row.method, row.code, row.reason ?? '']);
      expect(summary).toEqual([
        ['GetAgentInfo', Status.OK, ''],
        ['AddRepo', Status.OK, ''],
        ['GetRepo', Status.NOT_FOUND, 'REPO_NOT_FOUND'],
        ['AddRepo', expect.any(Number), expect.any(String)],
        ['WatchEvents', Status.UNIMPLEMENTED, 'STREAMING_NOT_ROUTABLE'],
        ['LaunchMissiles', Status.UNIMPLEMENTED, 'UNKNOWN_METHOD'],
        ['GetRepo', Status.INVALID_ARGUMENT, 'BAD_COMMAND_REQUEST'],
        ['GetAgentInfo', Status.UNAVAILABLE, 'LINK_CLOSED'],
      ]);
      expect(rows.every((row) => row.agentId === agentId && row.completedAt !== null)).toBe(true);
      expect(new Set(rows.map((row) => row.requestId)).size).toBe(rows.length);
    } finally {
      await orm.close();
    }
  });
});
