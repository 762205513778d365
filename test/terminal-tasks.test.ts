import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn as spawnPty } from 'node-pty';
import { Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentServiceClient, AttachTaskRequest, StartTaskRequest } from '../gen/grove/agent/v1/agent_service.js';
import { SessionActivity, TaskActivity, TaskState, type Repo, type Session } from '../gen/grove/agent/v1/resources.js';
import type { CoordinatorServiceClient } from '../gen/grove/coordinator/v1/coordinator_service.js';
import { grove } from './helpers/cli.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient, coordinatorClient, expectStatus } from './helpers/grpc.js';
import { CLI, startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

// A small interactive program stands in for a coding agent: real agents need their models'
// network, which this machine does not have.
const FIXTURE = join(import.meta.dirname, 'fixtures/interactive-agent.mjs');
const fixtureArgv = [process.execPath, FIXTURE];

/** The CLI in a real pseudo-terminal, as a person at a terminal runs it. */
function cliInTerminal(args: string[], env: Record<string, string> = {}) {
  let screen = '';
  const term = spawnPty(process.execPath, [CLI, ...args], {
    cols: 100,
    rows: 30,
    cwd: process.cwd(),
    env: { ...(process.env as Record<string, string>), GROVE_AGENT: '', GROVE_COORDINATOR: '', ...env },
  });
  term.onData((text) => (screen += text));
  const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  return { term, screen: () => screen, exited };
}

describe('terminal tasks: a pseudo-terminal held by the runner, attach, send, activity', () => {
  const tmp = tempDir();
  let coordinator: ServiceProcess;
  let agent: ServiceProcess;
  let channel: Channel;
  let client: AgentServiceClient;
  let coord: CoordinatorServiceClient;
  let repo: Repo;
  let branches = 0;
  const dataDir = join(tmp.path, 'agent');
  const profilesFile = join(tmp.path, 'profiles.json');

  async function startAgent() {
    agent = await startAgentProcess({
      dataDir,
      extraArgs: ['--coordinator', coordinator.address, '--needs-input-quiet', '300ms', '--profiles', profilesFile],
    });
    ({ client, channel } = agentClient(agent.address));
  }

  async function newSession(): Promise<Session> {
    const { session } = await client.createSession({
      repoIds: [repo.id],
      branch: `t${++branches}`,
      base: '',
      title: '',
      labels: {},
      requestId: '',
    });
    return session!;
  }
  const start = async (session: Session, request: Partial<StartTaskRequest>) =>
    (
      await client.startTask({
        sessionId: session.id,
        argv: [],
        prompt: '',
        env: {},
        repoId: '',
        requestId: '',
        tty: false,
        cols: 0,
        rows: 0,
        profile: '',
        continue: false,
        ...request,
      })
    ).task!;
  const running = (id: string) =>
    waitFor(async () => {
      const task = await client.getTask({ id });
      return task.state === TaskState.TASK_STATE_RUNNING && task.pid > 0 ? task : undefined;
    }, `task ${id} running`);
  const ended = (id: string) =>
    waitFor(async () => {
      const task = await client.getTask({ id });
      return task.state !== TaskState.TASK_STATE_QUEUED && task.state !== TaskState.TASK_STATE_RUNNING ? task : undefined;
    }, `task ${id} to end`);
  const logOf = async (id: string) => (await client.readTaskLog({ id, offset: 0, limit: 1 << 20 })).data.toString();
  const logShows = (id: string, text: string) =>
    waitFor(async () => ((await logOf(id)).includes(text) ? true : undefined), `"${text}" in the log of ${id}`);

  beforeAll(async () => {
    writeFileSync(
      profilesFile,
      JSON.stringify({
        profiles: [
          {
            name: 'echo-agent',
            description: 'prints how it was started',
            command: process.execPath,
            interactiveArgs: ['-e', 'console.log("interactive", process.argv.slice(1).join(" "))'],
            promptArgs: ['{prompt}'],
            oneShotArgs: ['-e', 'console.log("one-shot", process.argv.slice(1).join(" "))', '{prompt}'],
            continueArgs: ['-e', 'console.log("continued", process.argv.slice(1).join(" "))', '--'],
          },
        ],
      }),
    );
    coordinator = await startCoordinatorProcess({ dataDir: join(tmp.path, 'coordinator') });
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

  it('runs a --tty task in a terminal of the size given, takes send input and a resize, and ends with its exit code', async () => {
    const session = await newSession();
    const task = await start(session, { argv: fixtureArgv, tty: true, cols: 91, rows: 33, env: { FIXTURE_EXIT: '4' } });
    expect(task).toMatchObject({ tty: true, cols: 91, rows: 33 });
    await running(task.id);
    await logShows(task.id, 'tty=yes size=91x33');

    // A resize through an attach reaches the program; then input from `task send`.
    const requests: AttachTaskRequest[] = [
      { message: { $case: 'open', value: { taskId: task.id, readOnly: false, size: { cols: 120, rows: 40 } } } },
    ];
    const attach = client.attachTask(
      (async function* () {
        yield* requests;
        await new Promise((r) => setTimeout(r, 60_000));
      })(),
    );
    const it1 = attach[Symbol.asyncIterator]();
    const first = await it1.next();
    expect(first.value?.message?.$case).toBe('replay');
    await logShows(task.id, 'resized=120x40');

    const sent = await grove(['task', 'send', task.id, 'hello', '--enter', '--agent', agent.address]);
    expect(sent.code, sent.stderr).toBe(0);
    const done = await ended(task.id);
    expect(done).toMatchObject({ state: TaskState.TASK_STATE_FAILED, exitCode: 4 });
    expect(await logOf(task.id)).toContain('answer=hello');
    // The attach heard the end, with the task as it ended.
    let last;
    for (let next = await it1.next(); !next.done; next = await it1.next()) last = next.value;
    expect(last?.message).toMatchObject({ $case: 'exited', value: { id: task.id, exitCode: 4 } });
  });

  it('attaches a real terminal through the CLI, directly and through the coordinator; read-only never types; Ctrl-] detaches', async () => {
    for (const via of [
      ['--agent', agent.address],
      ['--coordinator', coordinator.address],
    ]) {
      const session = await newSession();
      const task = await start(session, { argv: fixtureArgv, tty: true });
      await running(task.id);
      await waitFor(
        async () =>
          (await coord.listTasks({ agent: '', sessionId: session.id, state: 0, pageSize: 10, pageToken: '' })).tasks.length > 0 ||
          undefined,
        'the coordinator to know the task',
      );
      await logShows(task.id, 'question?');

      const watcher = cliInTerminal(['task', 'attach', task.id, '--read-only', ...via]);
      await waitFor(() => watcher.screen().includes('question?') || undefined, 'the read-only attach to show the screen');
      watcher.term.write('ignored\r');
      // The watcher typed, but a read-only attach writes nothing: the task still waits.
      const typist = cliInTerminal(['task', 'attach', task.id, ...via]);
      await waitFor(() => typist.screen().includes('question?') || undefined, 'the attach to replay the screen');
      expect(await logOf(task.id)).not.toContain('ignored');
      typist.term.write('yes please\r');
      await waitFor(() => typist.screen().includes('answer=yes please') || undefined, 'the answer on the attached screen');
      expect(await typist.exited).toBe(0);
      expect(await watcher.exited).toBe(0);
      expect(watcher.screen()).toContain('answer=yes please');
      expect(await logOf(task.id)).not.toContain('ignored');
    }

    // Ctrl-] detaches and leaves the task running.
    const session = await newSession();
    const task = await start(session, { argv: fixtureArgv, tty: true });
    await running(task.id);
    const person = cliInTerminal(['task', 'attach', task.id, '--agent', agent.address]);
    await waitFor(() => person.screen().includes('question?') || undefined, 'the attach');
    person.term.write('\x1d');
    expect(await person.exited).toBe(0);
    expect(person.screen()).toContain('detached');
    expect((await client.getTask({ id: task.id })).state).toBe(TaskState.TASK_STATE_RUNNING);
    await client.sendTaskInput({ taskId: task.id, data: Buffer.from('bye\r') });
    expect((await ended(task.id)).state).toBe(TaskState.TASK_STATE_SUCCEEDED);
  });

  it('replays the screen as a terminal shows it to a client that attaches, not a tail of raw output', async () => {
    const session = await newSession();
    // 5,000 progress updates over one line, then a wait for input (bounded: a minute).
    const program = [
      'for (let i = 0; i < 5000; i++) process.stdout.write(`progress ${i}\\r`);',
      'process.stdout.write("\\r\\n\\x1b[1mwaiting\\x1b[0m\\r\\n");',
      'process.stdin.once("data", () => process.exit(0)); setTimeout(() => process.exit(9), 60000);',
    ].join('\n');
    const task = await start(session, { argv: [process.execPath, '-e', program], tty: true });
    await logShows(task.id, 'waiting');
    const requests = (async function* (): AsyncGenerator<AttachTaskRequest> {
      yield { message: { $case: 'open', value: { taskId: task.id, readOnly: true, size: undefined } } };
      await new Promise((r) => setTimeout(r, 30_000));
    })();
    const controller = new AbortController();
    const stream = client.attachTask(requests, { signal: controller.signal })[Symbol.asyncIterator]();
    const first = await stream.next();
    controller.abort();
    expect(first.value?.message?.$case).toBe('replay');
    const replay = (first.value!.message as { value: Buffer }).value.toString();
    // The screen shows the last update only, with the bold text's attributes kept.
    expect(replay).toContain('progress 4999');
    expect(replay).not.toContain('progress 4998');
    expect(replay).toContain('\x1b[1mwaiting');
    expect(replay.length).toBeLessThan(4096);
    await client.sendTaskInput({ taskId: task.id, data: Buffer.from('\r') });
    expect((await ended(task.id)).state).toBe(TaskState.TASK_STATE_SUCCEEDED);
  });

  it('keeps a terminal task through an agent SIGKILL: still RUNNING after the restart, send and attach work, and it ends with its code', async () => {
    const session = await newSession();
    const task = await start(session, { argv: fixtureArgv, tty: true, env: { FIXTURE_EXIT: '0' } });
    await running(task.id);
    await logShows(task.id, 'question?');
    channel.close();
    await agent.kill();
    await startAgent();
    expect((await client.getTask({ id: task.id })).state).toBe(TaskState.TASK_STATE_RUNNING);
    const person = cliInTerminal(['task', 'attach', task.id, '--agent', agent.address]);
    await waitFor(() => person.screen().includes('question?') || undefined, 'the attach after the restart');
    const sent = await grove(['task', 'send', task.id, 'after restart', '--enter', '--agent', agent.address]);
    expect(sent.code, sent.stderr).toBe(0);
    await waitFor(() => person.screen().includes('answer=after restart') || undefined, 'the answer');
    expect(await person.exited).toBe(0);
    expect(await ended(task.id)).toMatchObject({ state: TaskState.TASK_STATE_SUCCEEDED, exitCode: 0 });
  });

  it('shows NEEDS_INPUT from grove signal in the agent and the coordinator, WORKING after input; infers it for a quiet terminal, not a busy one', async () => {
    const session = await newSession();
    const task = await start(session, { argv: fixtureArgv, tty: true, env: { FIXTURE_SIGNAL: '1' } });
    // The explicit signal (not inferred): on a busy machine the quiet-terminal probe may
    // flag the task first, while `grove signal` is still starting; the signal then wins.
    await waitFor(async () => {
      const t = await client.getTask({ id: task.id });
      return t.activity === TaskActivity.TASK_ACTIVITY_NEEDS_INPUT && !t.activityInferred ? t : undefined;
    }, 'the task to signal needs-input');
    expect((await client.getSession({ id: session.id })).activity).toBe(SessionActivity.SESSION_ACTIVITY_NEEDS_INPUT);
    await waitFor(async () => {
      const { sessions } = await coord.listSessions({
        agent: '',
        state: 0,
        repo: '',
        labelSelector: '',
        orderBy: '',
        pageSize: 100,
        pageToken: '',
        activity: SessionActivity.SESSION_ACTIVITY_NEEDS_INPUT,
      });
      return sessions.some((s) => s.id === session.id) || undefined;
    }, 'the coordinator to list the session as needing input');
    const listed = await grove(['session', 'ls', '--activity', 'needs-input', '--agent', agent.address]);
    expect(listed.stdout).toContain(session.id);

    // Input: the fixture signals working before it answers.
    await client.sendTaskInput({ taskId: task.id, data: Buffer.from('sure\r') });
    await ended(task.id);

    // Inference: a quiet program reading its terminal is flagged; a busy one beside it is not.
    const quiet = await start(await newSession(), { argv: fixtureArgv, tty: true });
    const busySession = await newSession();
    const busy = await start(busySession, {
      argv: ['sh', '-c', 'echo busy; i=0; while [ $i -lt 3000000 ]; do i=$((i+1)); done'],
      tty: true,
    });
    await logShows(busy.id, 'busy');
    const inferred = await waitFor(async () => {
      const t = await client.getTask({ id: quiet.id });
      return t.activity === TaskActivity.TASK_ACTIVITY_NEEDS_INPUT ? t : undefined;
    }, 'the quiet terminal to be inferred NEEDS_INPUT');
    expect(inferred.activityInferred).toBe(true);
    const busyNow = await client.getTask({ id: busy.id });
    if (busyNow.state === TaskState.TASK_STATE_RUNNING) expect(busyNow.activity).toBe(TaskActivity.TASK_ACTIVITY_WORKING);
    await client.sendTaskInput({ taskId: quiet.id, data: Buffer.from('ok\r') });
    await ended(quiet.id);
    await client.cancelTask({ id: busy.id });
    await ended(busy.id);
  });

  it('starts profiles: built-ins and the user file listed, one-shot, terminal and --continue forms', async () => {
    const listed = await grove(['profile', 'ls', '--agent', agent.address]);
    expect(listed.code, listed.stderr).toBe(0);
    for (const name of ['claude', 'codex', 'aider', 'gemini', 'shell', 'echo-agent']) expect(listed.stdout).toContain(name);

    const session = await newSession();
    const oneShot = await start(session, { profile: 'echo-agent', prompt: 'fix the bug' });
    expect(oneShot.argv.slice(-1)).toEqual(['fix the bug']);
    await ended(oneShot.id);
    expect(await logOf(oneShot.id)).toContain('one-shot fix the bug');
    const continued = await start(session, { profile: 'echo-agent', prompt: 'and the tests', continue: true });
    await ended(continued.id);
    expect(await logOf(continued.id)).toContain('continued');
    const interactive = await start(session, { profile: 'echo-agent', tty: true });
    await ended(interactive.id);
    expect(await logOf(interactive.id)).toContain('interactive');
    // The worktree stays clean: profiles write nothing into it.
    expect((await client.killSession({ id: session.id })).session).toBeDefined();
  });

  it('refuses bad input clearly and changes nothing', async () => {
    const session = await newSession();
    const piped = await start(session, { argv: ['sh', '-c', 'echo piped'] });
    const finished = await ended(piped.id);
    const open = (taskId: string, readOnly = false) =>
      client.attachTask(
        (async function* (): AsyncGenerator<AttachTaskRequest> {
          yield { message: { $case: 'open', value: { taskId, readOnly, size: undefined } } };
          await new Promise((r) => setTimeout(r, 30_000));
        })(),
      );
    const drain = async (stream: AsyncIterable<unknown>) => {
      for await (const _ of stream);
    };
    await expectStatus(drain(open(finished.id)), Status.FAILED_PRECONDITION, /without a terminal/);
    const unknownId = piped.id.slice(0, -1) + (piped.id.endsWith('0') ? '1' : '0');
    await expectStatus(drain(open(unknownId)), Status.NOT_FOUND);
    await expectStatus(drain(open('nope')), Status.INVALID_ARGUMENT);
    const ttyTask = await start(session, { argv: ['sh', '-c', 'echo done'], tty: true });
    await ended(ttyTask.id);
    await expectStatus(drain(open(ttyTask.id)), Status.FAILED_PRECONDITION, /has ended/);
    await expectStatus(client.sendTaskInput({ taskId: piped.id, data: Buffer.from('x') }), Status.FAILED_PRECONDITION);
    await expectStatus(start(session, { profile: 'nope' }), Status.NOT_FOUND);
    await expectStatus(start(session, { argv: ['true'], continue: true }), Status.INVALID_ARGUMENT);
    await expectStatus(start(session, { argv: ['true'], tty: true, cols: 5000, rows: 1 }), Status.INVALID_ARGUMENT);

    // A read-only attach that tries to type is refused; the task never sees the input.
    const waiting = await start(await newSession(), { argv: fixtureArgv, tty: true });
    await running(waiting.id);
    const readOnly = client.attachTask(
      (async function* (): AsyncGenerator<AttachTaskRequest> {
        yield { message: { $case: 'open', value: { taskId: waiting.id, readOnly: true, size: undefined } } };
        yield { message: { $case: 'input', value: Buffer.from('sneaky\r') } };
        await new Promise((r) => setTimeout(r, 30_000));
      })(),
    );
    await expectStatus(drain(readOnly), Status.FAILED_PRECONDITION, /read-only/);
    // A wrong secret changes nothing.
    await expectStatus(
      client.signalTask({ taskId: waiting.id, secret: 'wrong', activity: TaskActivity.TASK_ACTIVITY_IDLE, message: '' }),
      Status.PERMISSION_DENIED,
    );
    // Not the IDLE it asked for: WORKING, or NEEDS_INPUT inferred once the prompt was quiet
    // for the 300 ms this agent is given (a busy machine takes that long between the calls).
    const after = await client.getTask({ id: waiting.id });
    expect(after.activity).not.toBe(TaskActivity.TASK_ACTIVITY_IDLE);
    expect(after.activity === TaskActivity.TASK_ACTIVITY_WORKING || after.activityInferred).toBe(true);
    expect(await logOf(waiting.id)).not.toContain('sneaky');
    await client.cancelTask({ id: waiting.id });
    await ended(waiting.id);
  });

  it('refuses a bad profiles file at start-up with what is wrong', async () => {
    const bad = join(tmp.path, 'bad-profiles.json');
    writeFileSync(bad, JSON.stringify({ profiles: [{ name: 'x', command: '' }] }));
    await expect(startAgentProcess({ dataDir: join(tmp.path, 'other-agent'), extraArgs: ['--profiles', bad] })).rejects.toThrow(
      /needs a command/,
    );
  });
});
