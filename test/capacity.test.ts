import { readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Status, type Channel } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import { TaskState, type Session, type Task } from '../gen/grove/agent/v1/resources.js';
import { gatedTask } from './helpers/fixtures.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient, coordinatorClient, expectStatus } from './helpers/grpc.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { grove } from './helpers/cli.js';
import { createSessionRequest, startTaskRequest } from './helpers/requests.js';
import { tempDir } from './helpers/temp.js';

const ephemeralFirst = () => Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

describe('agent capacity: --max-running-tasks and --min-free-disk', () => {
  const tmp = tempDir();
  let tests = 0;
  let dir = '';
  let agent: ServiceProcess | undefined;
  let channel: Channel | undefined;
  let client: AgentServiceClient;
  let repoId = '';
  let branches = 0;

  async function startAgent(extraArgs: string[]) {
    channel?.close();
    agent = await startAgentProcess({ dataDir: join(dir, 'agent'), extraArgs });
    ({ client, channel } = agentClient(agent.address));
  }
  async function fresh(extraArgs: string[]) {
    dir = join(tmp.path, `t${++tests}`);
    await startAgent(extraArgs);
    repoId = (await client.addRepo({ path: makeRepo(join(dir, 'repo')), name: 'repo' })).repo!.id;
  }
  afterEach(async () => {
    channel?.close();
    await agent?.stop();
    agent = undefined;
  });

  const newSession = async (): Promise<Session> =>
    (await client.createSession(createSessionRequest({ repoIds: [repoId], branch: `cap-${++branches}` }))).session!;
  const start = async (session: Session, gate: string): Promise<Task> =>
    (await client.startTask(startTaskRequest({ sessionId: session.id, argv: gatedTask(gate, `done ${gate}`) }))).task!;
  const stateOf = async (task: Task) => (await client.getTask({ id: task.id })).state;
  const until = (task: Task, state: TaskState) =>
    waitFor(async () => {
      const seen = await client.getTask({ id: task.id });
      return seen.state === state && (state !== TaskState.TASK_STATE_RUNNING || seen.pid > 0) ? seen : undefined;
    }, `task ${task.id} to be ${TaskState[state]}`);
  const open = (session: Session, gate: string) => writeFileSync(join(session.worktrees[0]!.path, gate), '');

  it('runs one task at a time across sessions; the next waits QUEUED until the first ends', async () => {
    await fresh(['--max-running-tasks', '1']);
    const [first, second] = [await newSession(), await newSession()];
    const a = await start(first, 'go-a');
    await until(a, TaskState.TASK_STATE_RUNNING);
    const b = await start(second, 'go-b');
    open(second, 'go-b'); // b could finish at once if it ran: it must not even start
    expect(await stateOf(b)).toBe(TaskState.TASK_STATE_QUEUED);
    expect(await stateOf(a)).toBe(TaskState.TASK_STATE_RUNNING);
    open(first, 'go-a');
    await until(a, TaskState.TASK_STATE_SUCCEEDED);
    const ranB = await until(b, TaskState.TASK_STATE_SUCCEEDED);
    expect(ranB.startTime!.getTime()).toBeGreaterThanOrEqual((await client.getTask({ id: a.id })).endTime!.getTime());
  });

  it('keeps the queue order across an agent restart: the session waiting longest starts first', async () => {
    await fresh(['--max-running-tasks', '1']);
    const sessions = [await newSession(), await newSession(), await newSession()];
    const a = await start(sessions[0]!, 'go-a');
    await until(a, TaskState.TASK_STATE_RUNNING);
    const b = await start(sessions[1]!, 'go-b');
    const c = await start(sessions[2]!, 'go-c');
    await agent!.kill();
    await startAgent(['--max-running-tasks', '1']);
    expect(await stateOf(a)).toBe(TaskState.TASK_STATE_RUNNING);
    expect([await stateOf(b), await stateOf(c)]).toEqual([TaskState.TASK_STATE_QUEUED, TaskState.TASK_STATE_QUEUED]);
    open(sessions[0]!, 'go-a');
    await until(b, TaskState.TASK_STATE_RUNNING);
    expect(await stateOf(c)).toBe(TaskState.TASK_STATE_QUEUED);
    open(sessions[1]!, 'go-b');
    await until(c, TaskState.TASK_STATE_RUNNING);
    open(sessions[2]!, 'go-c');
    await until(c, TaskState.TASK_STATE_SUCCEEDED);
  });

  it('below --min-free-disk refuses new sessions and tasks with RESOURCE_EXHAUSTED, and running tasks finish', async () => {
    await fresh([]);
    const session = await newSession();
    const running = await start(session, 'go');
    await until(running, TaskState.TASK_STATE_RUNNING);
    // A floor far above any real disk's free space: the reading is real, the answer certain.
    await agent!.stop();
    await startAgent(['--min-free-disk', '1000000T']);
    await expectStatus(newSession(), Status.RESOURCE_EXHAUSTED, /a new session refused: .* free on .*below --min-free-disk/);
    await expectStatus(start(session, 'never'), Status.RESOURCE_EXHAUSTED, /a new task refused/);
    expect((await client.listTasks({ sessionId: session.id, pageSize: 10, pageToken: '', state: 0 })).tasks).toHaveLength(1);
    open(session, 'go');
    await until(running, TaskState.TASK_STATE_SUCCEEDED);
  });

  it('a full agent is passed by: a selector and --spread choose another, and agents ls shows the load', async () => {
    dir = join(tmp.path, `t${++tests}`);
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir, 'coordinator') });
    const started: ServiceProcess[] = [];
    try {
      const runAt = async (name: string, extra: string[], busy: number) => {
        const agentProcess = await startAgentProcess({
          dataDir: join(dir, name),
          extraArgs: ['--coordinator', coordinator.address, '--name', name, ...extra],
        });
        started.push(agentProcess);
        const direct = agentClient(agentProcess.address);
        const repo = (await direct.client.addRepo({ path: makeRepo(join(dir, `repo-${name}`)), name: 'repo' })).repo!;
        for (let i = 0; i < busy; i++) {
          const { session } = await direct.client.createSession(createSessionRequest({ repoIds: [repo.id], branch: `busy-${i}` }));
          await direct.client.startTask(startTaskRequest({ sessionId: session!.id, argv: gatedTask('never', 'x') }));
        }
        direct.channel.close();
      };
      // small is full (1 of 1 running) though less loaded than big (2 running, no bound).
      await runAt('small', ['--max-running-tasks', '1'], 1);
      await runAt('big', [], 2);
      const { client: coord, channel: coordChannel } = coordinatorClient(coordinator.address);
      await waitFor(async () => {
        const { agents } = await coord.listAgents({});
        const load = Object.fromEntries(agents.map((a) => [a.name, `${a.runningTasks}/${a.maxRunningTasks}`]));
        return load.small === '1/1' && load.big === '2/0' ? true : undefined;
      }, 'both agents linked and their tasks running');
      // Free disk travels over the link: what the agents read of their file system, near statfs's.
      const { agents } = await coord.listAgents({});
      const fs = statfsSync(dir);
      const free = fs.bavail * fs.bsize;
      for (const a of agents) expect(Math.abs(a.freeDiskBytes - free)).toBeLessThan(free * 0.05 + 64 * 1024 ** 2);
      const listed = await grove(['agents', 'ls', '--coordinator', coordinator.address]);
      expect(listed.stdout).toMatch(/FREE DISK/);
      expect(listed.stdout).toMatch(/small .* [0-9.]+ GiB/);
      expect(listed.stdout).toMatch(/small .*1\/1 running, 0 queued/);
      expect(listed.stdout).toMatch(/big .*2 running, 0 queued/);
      const created = await grove(['session', 'create', '--repo', 'repo', '--branch', 'placed', '--coordinator', coordinator.address]);
      expect(created.stdout).toMatch(/on agent big/);
      const group = await grove([
        'run',
        '--count',
        '2',
        '--spread',
        '--repo',
        'repo',
        '--json',
        '--coordinator',
        coordinator.address,
        '--',
        'true',
      ]);
      const members = (JSON.parse(group.stdout) as { group: { members: Array<{ agentName: string }> } }).group.members;
      expect(members.map((m) => m.agentName)).toEqual(['big', 'big']);
      coordChannel.close();
    } finally {
      for (const agentProcess of started) await agentProcess.kill();
      await coordinator.stop();
    }
  });

  it('gives each session a block of ports of its own, seen by its tasks, reused only after the session is removed', async () => {
    await fresh(['--port-range', '21000-21003', '--ports-per-session', '2']);
    const [first, second] = [await newSession(), await newSession()];
    expect([first.ports, second.ports]).toEqual([
      [21000, 21001],
      [21002, 21003],
    ]);
    // Every block is held: a third session is refused, and nothing is made.
    await expectStatus(newSession(), Status.RESOURCE_EXHAUSTED, /every block of 2 port\(s\) in 21000-21003 is held/);
    const shown = await grove(['session', 'get', second.id, '--agent', agent!.address]);
    expect(shown.stdout).toMatch(/PORTS\s+21002, 21003/);
    const { task } = await client.startTask(
      startTaskRequest({ sessionId: second.id, argv: ['sh', '-c', 'echo "$GROVE_PORT $GROVE_PORT_1 $GROVE_PORT_2"'] }),
    );
    await until(task!, TaskState.TASK_STATE_SUCCEEDED);
    expect((await client.readTaskLog({ id: task!.id, offset: 0, limit: 0 })).data.toString()).toBe('21002 21002 21003\n');
    // Removing the first session frees its block for the next one.
    expect((await client.killSession({ id: first.id })).freed).toBe(true);
    expect((await newSession()).ports).toEqual([21000, 21001]);
    // Restoring the first: its old block is taken now, and every other block too.
    await expectStatus(client.restoreSessions({ ids: [first.id], all: false }), Status.RESOURCE_EXHAUSTED);
  });

  it('refuses bad port flags at start-up as usage errors', async () => {
    for (const [flags, why] of [
      [['--port-range', '30000-20000'], /starts after it ends/],
      [['--port-range', '20000-20001', '--ports-per-session', '3'], /more than --port-range/],
      [['--ports-per-session', '2'], /needs --port-range/],
      // Ports the kernel hands to outgoing connections would clash with a session's server.
      [['--port-range', `${ephemeralFirst()}-${ephemeralFirst() + 10}`], /overlaps the kernel's ephemeral ports/],
    ] as const) {
      dir = join(tmp.path, `t${++tests}`);
      const run = await grove(['agent', 'serve', '--data-dir', join(dir, 'agent'), '--listen', '127.0.0.1:0', ...flags]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(why);
    }
  });

  it('refuses a bad size at start-up as a usage error', async () => {
    dir = join(tmp.path, `t${++tests}`);
    const run = await grove(['agent', 'serve', '--data-dir', join(dir, 'agent'), '--listen', '127.0.0.1:0', '--min-free-disk', 'lots']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--min-free-disk takes a size like 500M or 2G/);
  });
});
