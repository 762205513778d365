import { join } from 'node:path';
import { Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import { JobKind, SessionState, TaskState, type Repo, type Session } from '../gen/grove/agent/v1/resources.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient, coordinatorClient, expectStatus } from './helpers/grpc.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

/**
 * Input the kernel, SQLite or the codec would refuse later, in confusing words: refused at
 * the door with INVALID_ARGUMENT and a reason, changing nothing, never INTERNAL.
 */
describe('bad input gets a clear status and changes nothing', () => {
  const tmp = tempDir();
  let agent: ServiceProcess;
  let channel: Channel;
  let client: AgentServiceClient;
  let repo: Repo;
  let session: Session;

  beforeAll(async () => {
    agent = await startAgentProcess({ dataDir: join(tmp.path, 'agent'), extraArgs: ['--worktree-root', join(tmp.path, 'wt')] });
    ({ client, channel } = agentClient(agent.address));
    repo = (await client.addRepo({ path: makeRepo(join(tmp.path, 'repo')), name: 'repo', keepIgnored: [] })).repo!;
    session = (await client.createSession({ repoIds: [repo.id], branch: 'b', base: '', title: '', labels: {}, requestId: '' })).session!;
  });
  afterAll(async () => {
    channel?.close();
    await agent?.stop();
    tmp.remove();
  });

  const start = (argv: string[], extra: { prompt?: string; env?: Record<string, string> } = {}) =>
    client.startTask({ sessionId: session.id, argv, prompt: extra.prompt ?? '', env: extra.env ?? {}, repoId: '', requestId: '' });

  const ended = (id: string) =>
    waitFor(async () => {
      const t = await client.getTask({ id });
      return t.state !== TaskState.TASK_STATE_QUEUED && t.state !== TaskState.TASK_STATE_RUNNING ? t : undefined;
    }, `task ${id} to end`);

  async function unchanged(work: () => Promise<unknown>) {
    const { revision } = await client.getAgentInfo({});
    await work();
    expect((await client.getAgentInfo({})).revision).toBe(revision);
  }

  it("an argument or variable over the kernel's 128 KiB per string, or a total over ARG_MAX", async () => {
    await unchanged(async () => {
      await expectStatus(start(['echo', 'x'.repeat(128 * 1024)]), Status.INVALID_ARGUMENT, /argument 1 is 131072 bytes/);
      await expectStatus(start(['true'], { env: { BIG: 'y'.repeat(128 * 1024) } }), Status.INVALID_ARGUMENT, /environment variable BIG/);
      const many = Array.from({ length: 25 }, () => 'z'.repeat(100 * 1024));
      await expectStatus(start(['echo', ...many]), Status.INVALID_ARGUMENT, /command and its environment take \d+ bytes/);
    });
  });

  it('a large prompt reaches the task through $GROVE_PROMPT_FILE instead of failing to exec', async () => {
    const prompt = 'p'.repeat(300 * 1024);
    const task = (await start(['sh', '-c', 'wc -c < "$GROVE_PROMPT_FILE"; echo "${GROVE_PROMPT:-unset}"'], { prompt })).task!;
    const done = await ended(task.id);
    expect(done.state).toBe(TaskState.TASK_STATE_SUCCEEDED);
    expect(done.outputTail.trim().split('\n')).toEqual([String(300 * 1024), 'unset']);
  });

  it('a NUL byte anywhere in a request: INVALID_ARGUMENT naming the field, no SQL in the message', async () => {
    await unchanged(async () => {
      const err = await expectStatus(
        client.createSession({ repoIds: [repo.id], branch: 'nul', base: '', title: 'a\0b', labels: {}, requestId: '' }),
        Status.INVALID_ARGUMENT,
        /field title contains a NUL byte/,
      );
      expect(err.details).not.toMatch(/insert|select|sqlite/i);
      await expectStatus(client.addRepo({ path: '/tmp', name: 'x', keepIgnored: ['a\0'] }), Status.INVALID_ARGUMENT, /keepIgnored\[0\]/);
      await expectStatus(
        client.createSession({ repoIds: [repo.id], branch: 'nul2', base: '', title: '', labels: { 'k\0': 'v' }, requestId: '' }),
        Status.INVALID_ARGUMENT,
        /NUL/,
      );
    });
  });

  it('an int64 past 2^53: INVALID_ARGUMENT, not INTERNAL', async () => {
    const task = (await start(['true'])).task!;
    await ended(task.id); // its end is an event: let it land before anything is compared
    await expectStatus(
      client.readTaskLog({ id: task.id, offset: 2 ** 60, limit: 10 }),
      Status.INVALID_ARGUMENT,
      /could not be decoded: .*MAX_SAFE_INTEGER/,
    );
    // The same call with sane numbers still works: nothing was broken by the refusal.
    expect((await client.readTaskLog({ id: task.id, offset: 0, limit: 10 })).nextOffset).toBeGreaterThanOrEqual(0);
  });

  it('unknown enum filters, over-long labels and request ids, refs/ and bidi branch names: refused', async () => {
    await unchanged(async () => {
      const list = { pageSize: 10, pageToken: '', repoId: '', labelSelector: '' };
      await expectStatus(client.listSessions({ ...list, state: 99 as SessionState }), Status.INVALID_ARGUMENT, /state 99 is not a value/);
      await expectStatus(
        client.listTasks({ sessionId: '', pageSize: 10, pageToken: '', state: 42 as TaskState }),
        Status.INVALID_ARGUMENT,
        /state 42/,
      );
      await expectStatus(
        client.listJobs({ repoId: '', pageSize: 10, pageToken: '', state: 0, kind: 77 as JobKind }),
        Status.INVALID_ARGUMENT,
        /kind 77/,
      );
      const create = (branch: string, extra: { labels?: Record<string, string>; requestId?: string } = {}) =>
        client.createSession({
          repoIds: [repo.id],
          branch,
          base: '',
          title: '',
          labels: extra.labels ?? {},
          requestId: extra.requestId ?? '',
        });
      await expectStatus(create('refs/heads/x'), Status.INVALID_ARGUMENT, /starts with 'refs\/'/);
      await expectStatus(create('fix-\u202egnp.exe'), Status.INVALID_ARGUMENT, /bidirectional/);
      await expectStatus(create('ok-branch', { labels: { team: 'x'.repeat(300) } }), Status.INVALID_ARGUMENT, /at most 256/);
      await expectStatus(create('ok-branch', { requestId: 'r'.repeat(200) }), Status.INVALID_ARGUMENT, /request_id/);
    });
    const coordinator = await startCoordinatorProcess({ dataDir: join(tmp.path, 'coordinator') });
    const { client: coord, channel: coordChannel } = coordinatorClient(coordinator.address);
    try {
      await expectStatus(
        coord.listSessions({ agent: '', pageSize: 10, pageToken: '', state: 99 as SessionState, repo: '', labelSelector: '' }),
        Status.INVALID_ARGUMENT,
        /state 99/,
      );
    } finally {
      coordChannel.close();
      await coordinator.stop();
    }
  });
});
