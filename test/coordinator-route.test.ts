import { join } from 'node:path';
import { createChannel, createClient, Metadata, Status, type Channel } from 'nice-grpc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AddRepoRequest,
  AddRepoResponse,
  UpdateRepoRequest,
  UpdateRepoResponse,
  ApplyStashRequest,
  CancelJobRequest,
  CancelTaskRequest,
  CancelTaskResponse,
  CreateSessionRequest,
  CreateSessionResponse,
  GetAgentInfoRequest,
  GetJobRequest,
  StartTaskRequest,
  StartTaskResponse,
  SubmitJobRequest,
  SubmitJobResponse,
} from '../gen/grove/agent/v1/agent_service.js';
import { Job, JobKind, TaskState } from '../gen/grove/agent/v1/resources.js';
import {
  AgentStatus,
  CoordinatorServiceDefinition,
  type CoordinatorServiceClient,
  type RouteRequest,
} from '../gen/grove/coordinator/v1/coordinator_service.js';
import { createLogger } from '../services/common/logging.js';
import { startCoordinator, type RunningCoordinator } from '../services/coordinator/coordinator.js';
import { CommandAuditSchema } from '../services/coordinator/store/entities.js';
import { initOrm } from '../services/coordinator/store/orm.js';
import { makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

const log = createLogger({ level: process.env.GROVE_LOG_LEVEL === 'debug' ? 'debug' : 'silent' });
const encode = <T>(codec: { encode(m: T): { finish(): Uint8Array } }, message: T) => Buffer.from(codec.encode(message).finish());

/** A coordinator in-process and one agent, `solo`, linked to it. */
interface Rig {
  dir: string;
  coordinator: RunningCoordinator | undefined;
  agent: ServiceProcess;
  channel: Channel;
  client: CoordinatorServiceClient;
  agentId: string;
}

async function startRig(dir: string): Promise<Rig> {
  const coordinator = await startCoordinator({
    listen: '127.0.0.1:0',
    dataDir: join(dir, 'coordinator'),
    heartbeatMs: 200,
    agentGraceMs: 1500,
    agentTtlMs: 3000,
    log,
  });
  const channel = createChannel(coordinator.address);
  const client = createClient(CoordinatorServiceDefinition, channel);
  const agent = await startAgentProcess({
    dataDir: join(dir, 'agent'),
    extraArgs: ['--coordinator', coordinator.address, '--name', 'solo', '--labels', 'role=build'],
  });
  // Linked and shown CONNECTED: routing takes it from the first call.
  const agentId = await waitFor(async () => {
    const listed = (await client.listAgents({ status: AgentStatus.AGENT_STATUS_CONNECTED })).agents[0]?.id;
    return listed && coordinator.links.isOpen(listed) ? listed : undefined;
  }, 'the agent to link');
  return { dir, coordinator, agent, channel, client, agentId };
}

async function stopRig(rig: Rig | undefined): Promise<void> {
  rig?.agent.child.kill('SIGCONT');
  rig?.channel.close();
  await rig?.agent.kill();
  await rig?.coordinator?.close();
}

async function failure(rig: Rig, request: Partial<RouteRequest>, signal?: AbortSignal) {
  let trailer: Metadata | undefined;
  const started = Date.now();
  const error = await rig.client.route(request, { onTrailer: (t) => (trailer = t), signal }).then(
    () => undefined,
    (err: { code: Status; details: string }) => err,
  );
  expect(error, 'the call should have failed').toBeDefined();
  return {
    code: error!.code,
    details: error!.details,
    reason: trailer?.get('grove-reason'),
    agent: trailer?.get('grove-agent-id'),
    tookMs: Date.now() - started,
  };
}

async function routeAs<T>(
  rig: Rig,
  method: string,
  request: Buffer,
  decoder: { decode(input: Uint8Array): T },
  extra: Partial<RouteRequest> = {},
): Promise<{ agentId: string; body: T }> {
  let trailer: Metadata | undefined;
  const response = await rig.client.route({ method, request, ...extra }, { onTrailer: (t) => (trailer = t) });
  expect(trailer?.get('grove-agent-id')).toBe(response.agentId);
  return { agentId: response.agentId, body: decoder.decode(response.response) };
}

// What the tests do, as steps: the audit test repeats them all on a rig of its own.

async function refusesUnroutable(rig: Rig): Promise<void> {
  expect(await failure(rig, { method: 'LaunchMissiles' })).toMatchObject({ code: Status.INVALID_ARGUMENT, reason: 'UNKNOWN_METHOD' });
  expect(await failure(rig, { method: 'FollowTaskLog', agent: 'solo' })).toMatchObject({
    code: Status.INVALID_ARGUMENT,
    reason: 'STREAMING_NOT_ROUTABLE',
  });
  // A length-delimited field that claims more bytes than there are.
  expect(await failure(rig, { method: 'GetJob', request: Buffer.from([0x0a, 0x05, 0x61]) })).toMatchObject({
    code: Status.INVALID_ARGUMENT,
    reason: 'BAD_ROUTE_REQUEST',
  });
  expect(await failure(rig, { method: 'ApplyStash', request: encode(ApplyStashRequest, { id: 'sta_1' }) })).toMatchObject({
    code: Status.INVALID_ARGUMENT,
    reason: 'AGENT_REQUIRED',
  });
  expect(await failure(rig, { method: 'GetAgentInfo', labelSelector: 'role=deploy' })).toMatchObject({
    code: Status.FAILED_PRECONDITION,
    reason: 'NO_MATCHING_AGENT',
  });
  expect(await failure(rig, { method: 'GetJob', request: encode(GetJobRequest, { id: 'job_nope' }) })).toMatchObject({
    code: Status.NOT_FOUND,
    reason: 'JOB_NOT_FOUND',
  });
}

async function routesJobsAndTasks(rig: Rig): Promise<void> {
  const { client, agentId } = rig;
  const coordinator = rig.coordinator!;
  const { body: repo } = await routeAs(
    rig,
    'AddRepo',
    encode(AddRepoRequest, { path: makeRepo(join(rig.dir, 'repo')), name: 'repo', keepIgnored: [], setup: '', teardown: '', copy: [] }),
    AddRepoResponse,
    { labelSelector: 'role=build' },
  );
  await waitFor(() => coordinator.projection.index.repos.ownersOf(repo.repo!.id).length > 0 || undefined, 'the repo projected');
  // UpdateRepo, added after routing was built, routes by its repo id through its one registry line.
  const updated = await routeAs(
    rig,
    'UpdateRepo',
    encode(UpdateRepoRequest, {
      id: repo.repo!.id,
      settings: { keepIgnored: ['.env'], setup: '', teardown: '', copy: [] },
      updateMask: ['keep_ignored'],
    }),
    UpdateRepoResponse,
  );
  expect(updated.body.repo!.keepIgnored).toEqual(['.env']);
  // SubmitJob by the repo id alone, then GetJob and CancelJob by the job id alone.
  const submitted = await routeAs(
    rig,
    'SubmitJob',
    encode(SubmitJobRequest, SubmitJobRequest.fromPartial({ kind: JobKind.JOB_KIND_SYNC_REPO, repoId: repo.repo!.id })),
    SubmitJobResponse,
  );
  const jobId = submitted.body.job!.id;
  await waitFor(() => coordinator.projection.index.jobs.ownersOf(jobId).length > 0 || undefined, 'the job projected');
  const job = await routeAs(rig, 'GetJob', encode(GetJobRequest, { id: jobId }), Job);
  expect(job).toMatchObject({ agentId, body: { id: jobId, kind: JobKind.JOB_KIND_SYNC_REPO } });
  // Cancelling may succeed or be refused (the job may have finished); either way it reached the agent.
  let cancelTrailer: Metadata | undefined;
  await client
    .route({ method: 'CancelJob', request: encode(CancelJobRequest, { id: jobId }) }, { onTrailer: (t) => (cancelTrailer = t) })
    .catch(() => undefined);
  expect(cancelTrailer?.get('grove-agent-id')).toBe(agentId);

  // A session by has_repo, a task by its session id, a cancel by the task id.
  const { body: created } = await routeAs(
    rig,
    'CreateSession',
    encode(CreateSessionRequest, CreateSessionRequest.fromPartial({ branch: 'routed', base: 'main' })),
    CreateSessionResponse,
    { hasRepo: 'repo' },
  );
  const sessionId = created.session!.id;
  await waitFor(() => coordinator.projection.index.sessions.ownersOf(sessionId).length > 0 || undefined, 'the session projected');
  const { body: started } = await routeAs(
    rig,
    'StartTask',
    encode(StartTaskRequest, StartTaskRequest.fromPartial({ sessionId, argv: ['sleep', '30'] })),
    StartTaskResponse,
  );
  const taskId = started.task!.id;
  await waitFor(() => coordinator.projection.index.tasks.ownersOf(taskId).length > 0 || undefined, 'the task projected');
  await routeAs(rig, 'CancelTask', encode(CancelTaskRequest, { id: taskId }), CancelTaskResponse);
  await waitFor(async () => {
    const { tasks } = await client.listTasks({ sessionId });
    return tasks[0]?.state === TaskState.TASK_STATE_CANCELLED || undefined;
  }, 'the task cancelled');
}

/** Three GetAgentInfo commands: past its deadline, given up by the caller, answered. */
async function endsFrozenCalls(rig: Rig): Promise<void> {
  const { agent, agentId, client } = rig;
  agent.child.kill('SIGSTOP');
  try {
    const late = await failure(rig, { method: 'GetAgentInfo', agent: 'solo', request: encode(GetAgentInfoRequest, {}), timeoutMs: 300 });
    expect(late).toMatchObject({ code: Status.DEADLINE_EXCEEDED, reason: 'COMMAND_DEADLINE_EXCEEDED', agent: agentId });
    expect(late.tookMs).toBeLessThan(2000);
    // No timeout_ms: the default (30 s) would apply, but the caller's own signal ends it.
    const started = Date.now();
    const gaveUp = await client.route({ method: 'GetAgentInfo', agent: 'solo' }, { signal: AbortSignal.timeout(300) }).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(gaveUp?.name).toBe('TimeoutError');
    expect(Date.now() - started).toBeLessThan(2000);
    await waitFor(() => rig.coordinator!.links.get(agentId)?.pendingCommands === 0 || undefined, 'the abandoned command to be dropped');
  } finally {
    agent.child.kill('SIGCONT');
  }
  await routeAs(rig, 'GetAgentInfo', Buffer.alloc(0), { decode: (b: Uint8Array) => b }, { agent: agentId });
}

// The coordinator runs in-process so the test can look at its links and audit; the agent
// is a real process at the far end of a real link.
describe('Route: contract details', () => {
  const tmp = tempDir();
  /** Shared by the tests that leave it as they found it. */
  let shared: Rig | undefined;
  /** A test's own, for one that closes its coordinator. */
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

  it('refuses what cannot be routed, before sending anything', async () => {
    await refusesUnroutable(shared!);
  });

  it('routes jobs and tasks by their ids, and names the agent in a trailer', async () => {
    await routesJobsAndTasks(shared!);
  });

  it('a frozen agent: the routed call ends at its timeout, or when the caller gives up, and nothing is left waiting', async () => {
    await endsFrozenCalls(shared!);
  });

  it('audits every routed command', async () => {
    // Its own coordinator, so the audit holds exactly the calls made here, and closing it
    // (to read its database) leaves the other tests theirs.
    own = await startRig(join(tmp.path, 'audit'));
    await refusesUnroutable(own);
    await routesJobsAndTasks(own);
    await endsFrozenCalls(own);
    const coordinatorDir = join(own.dir, 'coordinator');
    await own.coordinator!.close();
    own.coordinator = undefined;
    const orm = await initOrm(coordinatorDir, log);
    try {
      const rows = await orm.em.fork().find(CommandAuditSchema, {}, { orderBy: { id: 'asc' } });
      const methods = rows.map((row) => row.method);
      expect(methods).toEqual(
        expect.arrayContaining(['AddRepo', 'SubmitJob', 'GetJob', 'CancelJob', 'CreateSession', 'StartTask', 'CancelTask', 'GetAgentInfo']),
      );
      // Refused calls never reached a link, so they are not commands.
      expect(methods).not.toContain('LaunchMissiles');
      expect(methods).not.toContain('ApplyStash');
      expect(rows.filter((row) => row.method === 'GetAgentInfo').map((row) => row.reason)).toEqual([
        'COMMAND_DEADLINE_EXCEEDED',
        'CALLER_CANCELLED',
        null,
      ]);
    } finally {
      await orm.close();
    }
  });
});
