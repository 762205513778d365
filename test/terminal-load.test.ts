import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createChannel, createClient, Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentServiceClient, AttachTaskRequest, AttachTaskResponse } from '../gen/grove/agent/v1/agent_service.js';
import { TaskState, type Repo, type Session, type Task } from '../gen/grove/agent/v1/resources.js';
import {
  AgentStatus,
  CoordinatorServiceDefinition,
  type CoordinatorServiceClient,
} from '../gen/grove/coordinator/v1/coordinator_service.js';
import { groveLive } from './helpers/cli.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient, coordinatorClient, expectStatus } from './helpers/grpc.js';
import { sampleValue, scrape } from './helpers/metrics.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');

/** Requests pushed by the test as it goes; the stream stays open until `end()`. */
function requestQueue(first: AttachTaskRequest) {
  const waiting: AttachTaskRequest[] = [first];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    push(request: AttachTaskRequest) {
      waiting.push(request);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *stream(): AsyncGenerator<AttachTaskRequest> {
      for (;;) {
        while (waiting.length > 0) yield waiting.shift()!;
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
  };
}

const open = (taskId: string): AttachTaskRequest => ({ message: { $case: 'open', value: { taskId, readOnly: false, size: undefined } } });

describe('terminals under load, through the coordinator', () => {
  const tmp = tempDir();
  const coordinatorDir = join(tmp.path, 'coordinator');
  let coordinator: ServiceProcess;
  let agent: ServiceProcess;
  let channel: Channel;
  let client: AgentServiceClient;
  let coord: CoordinatorServiceClient;
  let repo: Repo;
  let branches = 0;

  beforeAll(async () => {
    // Heartbeats every 250 ms, and a link silent for 3 s is demoted: a flood that held the
    // link's stream back would show as DISCONNECTED.
    coordinator = await startCoordinatorProcess({
      dataDir: coordinatorDir,
      extraArgs: ['--heartbeat', '250ms', '--agent-grace', '3s', '--http', '127.0.0.1:0'],
    });
    ({ client: coord } = coordinatorClient(coordinator.address));
    await startAgent();
    repo = (await client.addRepo({ path: makeRepo(join(tmp.path, 'repo')), name: 'repo' })).repo!;
  });
  afterAll(async () => {
    channel?.close();
    await agent?.stop();
    await coordinator?.stop();
    tmp.remove();
  });

  async function startAgent() {
    agent = await startAgentProcess({ dataDir: join(tmp.path, 'agent'), extraArgs: ['--coordinator', coordinator.address] });
    ({ client, channel } = agentClient(agent.address));
    await waitFor(
      async () => (await coord.listAgents({})).agents.find((a) => a.status === AgentStatus.AGENT_STATUS_CONNECTED),
      'the agent to link',
    );
  }

  async function newSession(): Promise<Session> {
    const request = { repoIds: [repo.id], branch: `load${++branches}`, base: '', title: '', labels: {}, requestId: '' };
    return (await client.createSession(request)).session!;
  }
  async function startTty(argv: string[], tty = true): Promise<Task> {
    const session = await newSession();
    const request = {
      sessionId: session.id,
      argv,
      prompt: '',
      env: {},
      repoId: '',
      requestId: '',
      tty,
      cols: 0,
      rows: 0,
      profile: '',
      continue: false,
    };
    const { task } = await client.startTask(request);
    await waitFor(async () => {
      const seen = await client.getTask({ id: task!.id });
      return seen.state === TaskState.TASK_STATE_RUNNING && seen.pid > 0 ? true : undefined;
    }, `task ${task!.id} running`);
    // Routed by task id: the coordinator must know the task first.
    await waitFor(
      async () =>
        (await coord.listTasks({ agent: '', sessionId: session.id, state: 0, pageSize: 10, pageToken: '' })).tasks.length > 0 || undefined,
      'the coordinator to know the task',
    );
    return task!;
  }
  const loggedBytes = async (id: string) => (await client.readTaskLog({ id, offset: 0, limit: 1 })).nextOffset;

  it('a flooding terminal with a stalled attach delays neither another attach nor the link', async () => {
    const stopFile = join(tmp.path, 'stop-flood');
    const flood = await startTty([process.execPath, join(FIXTURES, 'flood-terminal.mjs'), stopFile]);
    const echo = await startTty([process.execPath, join(FIXTURES, 'echo-terminal.mjs')]);

    // A client that attaches to the flood and never reads: its tiny HTTP/2 window fills at once.
    const stalledChannel = createChannel(coordinator.address, undefined, { 'grpc-node.flow_control_window': 1024 });
    const stalledClient = createClient(CoordinatorServiceDefinition, stalledChannel);
    const stalledRequests = requestQueue(open(flood.id));
    const stalled = stalledClient.attachTask(stalledRequests.stream())[Symbol.asyncIterator]();
    void stalled.next().catch(() => undefined); // opens the call, then reads nothing more

    const echoRequests = requestQueue(open(echo.id));
    const echoStream = coord.attachTask(echoRequests.stream())[Symbol.asyncIterator]();
    let screen = '';
    const reading = (async () => {
      for (;;) {
        const next: IteratorResult<AttachTaskResponse> = await echoStream.next();
        if (next.done) return;
        const message = next.value.message;
        if (message?.$case === 'replay' || message?.$case === 'output') screen += message.value.toString();
      }
    })();
    await waitFor(() => screen.includes('ready') || undefined, 'the echo terminal to attach');

    const floodStart = await loggedBytes(flood.id);
    let trips = 0;
    // Round trips go on until the flood has put at least 8 MiB through its terminal meanwhile,
    // and at least 20 were made; the link must stay CONNECTED and un-ended at every step.
    while (trips < 20 || (await loggedBytes(flood.id)) - floodStart < 8 * 1024 * 1024) {
      expect(trips, 'the flood never produced 8 MiB').toBeLessThan(2000);
      const word = `ping-${trips}`;
      echoRequests.push({ message: { $case: 'input', value: Buffer.from(`${word}\r`) } });
      await waitFor(() => screen.includes(`got ${word}`) || undefined, `the echo of ${word}`);
      const [linked] = (await coord.listAgents({})).agents;
      expect(linked?.status, `the link was demoted after ${trips} round trips`).toBe(AgentStatus.AGENT_STATUS_CONNECTED);
      expect(linked?.linkEnded, 'the link ended under load').toBe('');
      trips++;
    }
    expect((await client.getTask({ id: flood.id })).state, 'the flood ended before the round trips did').toBe(TaskState.TASK_STATE_RUNNING);
    // One link all along: no redial happened under the flood.
    const metrics = await scrape(coordinatorDir, 'http-address');
    expect(sampleValue(metrics, 'grove_coordinator_link_joins_total', { how: 'no-projection' })).toBe(1);

    writeFileSync(stopFile, '');
    echoRequests.push({ message: { $case: 'input', value: Buffer.from('quit\r') } });
    await reading;
    stalledRequests.end();
    stalledChannel.close();
    await waitFor(
      async () => ((await client.getTask({ id: flood.id })).state === TaskState.TASK_STATE_SUCCEEDED ? true : undefined),
      'the flood to end',
    );
    expect((await client.getTask({ id: echo.id })).state).toBe(TaskState.TASK_STATE_SUCCEEDED);
  });

  it('a dropped client leaves the task alone; a dropped link ends the attach UNAVAILABLE, and a new attach works after', async () => {
    const echo = await startTty([process.execPath, join(FIXTURES, 'echo-terminal.mjs')]);
    const attach = (signal: AbortSignal) => {
      const requests = requestQueue(open(echo.id));
      const responses = coord.attachTask(requests.stream(), { signal })[Symbol.asyncIterator]();
      let screen = '';
      const reading = (async () => {
        for (;;) {
          const next: IteratorResult<AttachTaskResponse> = await responses.next();
          if (next.done) return next.value;
          const message = next.value.message;
          if (message?.$case === 'replay' || message?.$case === 'output') screen += message.value.toString();
          if (message?.$case === 'exited') return message.value;
        }
      })();
      return { requests, reading, screen: () => screen };
    };

    // A client that goes away mid-attach: the task neither notices nor stops.
    const leaving = new AbortController();
    const first = attach(leaving.signal);
    await waitFor(() => first.screen().includes('ready') || undefined, 'the first attach');
    leaving.abort();
    await first.reading.catch(() => undefined);
    await client.sendTaskInput({ taskId: echo.id, data: Buffer.from('still here\r') });
    await waitFor(
      async () =>
        (await client.readTaskLog({ id: echo.id, offset: 0, limit: 0 })).data.toString().includes('got still here') ? true : undefined,
      'the task to answer after the client left',
    );

    // The link drops (the agent is killed) under an open attach: it ends UNAVAILABLE.
    const second = attach(new AbortController().signal);
    await waitFor(() => second.screen().includes('got still here') || undefined, 'the second attach to replay the screen');
    channel.close();
    await agent.kill();
    await expectStatus(second.reading, Status.UNAVAILABLE);
    expect((await coord.listAgents({})).agents[0]?.linkEnded).not.toBe('');

    // The terminal outlived the agent; after its restart a new attach types into it.
    await startAgent();
    const third = attach(new AbortController().signal);
    await waitFor(() => third.screen().includes('got still here') || undefined, 'the re-attach to replay the screen');
    third.requests.push({ message: { $case: 'input', value: Buffer.from('quit\r') } });
    const exited = (await third.reading) as Task;
    expect(exited.state).toBe(TaskState.TASK_STATE_SUCCEEDED);
  });

  it('task logs --follow --coordinator streams a log on a tunnel as it is written, every byte once', async () => {
    const session = await newSession();
    const gate = join(session.worktrees[0]!.path, 'go');
    const { task } = await client.startTask({
      sessionId: session.id,
      // Bounded: the task gives up after a minute if the gate never opens.
      argv: ['sh', '-c', `echo first; i=0; while [ ! -e go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo second`],
      prompt: '',
      env: {},
      repoId: '',
      requestId: '',
      tty: false,
      cols: 0,
      rows: 0,
      profile: '',
      continue: false,
    });
    await waitFor(
      async () =>
        (await coord.listTasks({ agent: '', sessionId: session.id, state: 0, pageSize: 10, pageToken: '' })).tasks.length > 0 || undefined,
      'the coordinator to know the task',
    );
    const followCount = async () =>
      sampleValue(await scrape(coordinatorDir, 'http-address'), 'grove_coordinator_rpc_duration_seconds_count', {
        method: '/grove.coordinator.v1.CoordinatorService/FollowTaskLog',
        code: 'OK',
      }) ?? 0;
    const followsBefore = await followCount();
    const following = groveLive(['task', 'logs', task!.id, '--follow', '--coordinator', coordinator.address]);
    // The first line arrives while the task still runs, before the gate opens.
    await waitFor(() => following.stdout().includes('first\n') || undefined, 'the first line, followed');
    expect(following.stdout()).not.toContain('second');
    writeFileSync(gate, '');
    const result = await following.done;
    expect(result.stdout).toBe('first\nsecond\n');
    expect(result.code).toBe(0);
    // It streamed through the coordinator's FollowTaskLog (a tunnel), not by polling reads.
    expect(await followCount()).toBe(followsBefore + 1);
  });
});
