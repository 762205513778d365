import { join } from 'node:path';
import { createChannel, createClient, Status, type Channel } from 'nice-grpc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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

const log = createLogger({ level: process.env.GROVE_LOG_LEVEL === 'debug' ? 'debug' : 'silent' });

/** A coordinator in-process and one agent, `gamma`, linked to it. */
interface Rig {
  dir: string;
  coordinator: RunningCoordinator | undefined;
  agent: ServiceProcess;
  channel: Channel;
  agentId: string;
}

async function startRig(dir: string): Promise<Rig> {
  const coordinator = await startCoordinator({ listen: '127.0.0.1:0', dataDir: join(dir, 'coordinator'), heartbeatMs: 200, log });
  const agent = await startAgentProcess({
    dataDir: join(dir, 'agent'),
    extraArgs: ['--coordinator', coordinator.address, '--name', 'gamma'],
  });
  const channel = createChannel(agent.address);
  const agentId = (await createClient(AgentServiceDefinition, channel).getAgentInfo({})).id;
  await waitFor(() => coordinator.links.isOpen(agentId) || undefined, 'the agent to link');
  return { dir, coordinator, agent, channel, agentId };
}

async function stopRig(rig: Rig | undefined): Promise<void> {
  rig?.agent.child.kill('SIGCONT');
  rig?.channel.close();
  await rig?.agent.kill();
  await rig?.coordinator?.close();
}

const send = (rig: Rig, method: string, request: Uint8Array, deadlineMs = 5000) =>
  rig.coordinator!.links.sendCommand(rig.agentId, method, request, deadlineMs);

// What the tests do, as steps: the audit test repeats them all, in order, on a rig of its own.

async function runsUnary(rig: Rig): Promise<void> {
  const result = await send(rig, 'GetAgentInfo', GetAgentInfoRequest.encode({}).finish());
  expect(result.code).toBe(Status.OK);
  const info = AgentInfo.decode(result.response);
  expect(info).toMatchObject({ id: rig.agentId, name: 'gamma' });
}

async function reachesProjection(rig: Rig): Promise<void> {
  const path = makeRepo(join(rig.dir, 'repos', 'routed'));
  const result = await send(
    rig,
    'AddRepo',
    AddRepoRequest.encode({ path, name: 'routed', keepIgnored: [], setup: '', teardown: '', copy: [] }).finish(),
  );
  expect(result.code).toBe(Status.OK);
  const { repo } = AddRepoResponse.decode(result.response);
  expect(repo).toMatchObject({ name: 'routed', path });
  await waitFor(() => rig.coordinator!.projection.of(rig.agentId)?.repos.get(repo!.id), 'the routed repo in the projection');
}

async function relaysErrors(rig: Rig): Promise<void> {
  const missing = await send(rig, 'GetRepo', GetRepoRequest.encode({ id: 'no-such-repo' }).finish());
  expect(missing).toMatchObject({ code: Status.NOT_FOUND, reason: 'REPO_NOT_FOUND' });
  expect(missing.message).toContain('no-such-repo');
  expect(missing.response).toHaveLength(0);

  const invalid = await send(
    rig,
    'AddRepo',
    AddRepoRequest.encode({ path: join(rig.dir, 'not-a-repo'), name: '', keepIgnored: [], setup: '', teardown: '', copy: [] }).finish(),
  );
  expect(invalid.code).not.toBe(Status.OK);
  expect(invalid.reason).not.toBe('');

  const streaming = await send(rig, 'WatchEvents', WatchEventsRequest.encode({ afterRevision: 0 }).finish());
  expect(streaming).toMatchObject({ code: Status.UNIMPLEMENTED, reason: 'STREAMING_NOT_ROUTABLE' });
  const unknown = await send(rig, 'LaunchMissiles', new Uint8Array());
  expect(unknown).toMatchObject({ code: Status.UNIMPLEMENTED, reason: 'UNKNOWN_METHOD' });
  // A length-delimited field that claims more bytes than there are.
  const garbage = await send(rig, 'GetRepo', Uint8Array.from([0x0a, 0x05, 0x61]));
  expect(garbage).toMatchObject({ code: Status.INVALID_ARGUMENT, reason: 'BAD_COMMAND_REQUEST' });
}

async function failsWithoutLink(rig: Rig): Promise<void> {
  await expect(rig.coordinator!.links.sendCommand('agt_nobody', 'GetAgentInfo', new Uint8Array(), 5000)).rejects.toMatchObject({
    code: Status.UNAVAILABLE,
    reason: 'AGENT_NOT_CONNECTED',
  });
}

/** Kills the rig's agent under a pending command. */
async function failsOnLinkDrop(rig: Rig): Promise<void> {
  const { agent, agentId } = rig;
  // Frozen, the agent cannot answer; killed, its link drops under the waiting command.
  agent.child.kill('SIGSTOP');
  const pending = send(rig, 'GetAgentInfo', GetAgentInfoRequest.encode({}).finish(), 20_000);
  const settled = pending.then(
    () => 'resolved',
    (err: { code?: number; reason?: string }) => err,
  );
  await waitFor(() => (rig.coordinator!.links.get(agentId)?.pendingCommands ?? 0) > 0 || undefined, 'the command to be in flight');
  const started = Date.now();
  await agent.kill();
  expect(await settled).toMatchObject({ code: Status.UNAVAILABLE, reason: 'LINK_CLOSED' });
  expect(Date.now() - started).toBeLessThan(5000);
  await expect(send(rig, 'GetAgentInfo', GetAgentInfoRequest.encode({}).finish())).rejects.toMatchObject({
    code: Status.UNAVAILABLE,
  });
}

// The coordinator runs in-process so the test can call sendCommand directly, as routing
// will; the agent is a real process at the far end of a real link.
describe('commands over the link', () => {
  const tmp = tempDir();
  /** Shared by the tests that leave it as they found it. */
  let shared: Rig | undefined;
  /** A test's own, for one that kills its agent or closes its coordinator. */
  let own: Rig | undefined;

  beforeAll(async () => {
    shared = await startRig(join(tmp.path, 'shared'));
  });
  afterEach(async () => {
    await stopRig(own);
    own = undefined;
  });
  afterAll(async () => {
    await stopRig(shared);
    tmp.remove();
  });

  it('runs a unary method on the agent and answers its encoded response', async () => {
    await runsUnary(shared!);
  });

  it('changes made by a command reach the projection through the event stream', async () => {
    await reachesProjection(shared!);
  });

  it('relays the agent errors with their code, reason and message', async () => {
    await relaysErrors(shared!);
  });

  it('fails fast with UNAVAILABLE for an agent without a link', async () => {
    await failsWithoutLink(shared!);
  });

  it('fails a pending command with UNAVAILABLE when the link drops, and new ones fast', async () => {
    own = await startRig(join(tmp.path, 'link-drop'));
    await failsOnLinkDrop(own);
  });

  it('audits every command sent, with how it ended', async () => {
    // Its own coordinator, so the audit holds exactly the commands sent here.
    own = await startRig(join(tmp.path, 'audit'));
    await runsUnary(own);
    await reachesProjection(own);
    await relaysErrors(own);
    await failsWithoutLink(own);
    await failsOnLinkDrop(own);
    const coordinatorDir = join(own.dir, 'coordinator');
    await own.coordinator!.close();
    own.coordinator = undefined;
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
      expect(rows.every((row) => row.agentId === own!.agentId && row.completedAt !== null)).toBe(true);
      expect(new Set(rows.map((row) => row.requestId)).size).toBe(rows.length);
    } finally {
      await orm.close();
    }
  });
});
