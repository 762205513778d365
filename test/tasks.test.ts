import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import { SessionActivity, TaskState, type Repo, type Session, type Task } from '../gen/grove/agent/v1/resources.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient, expectStatus } from './helpers/grpc.js';
import { pidAlive, startAgentProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { execSql, querySql } from './helpers/sqlite.js';
import { tempDir } from './helpers/temp.js';
import { gatedTask, pidIn, signalGroup, waitForFile } from './helpers/fixtures.js';
import { bootId, startTicks } from '../services/agent/procs/proc-info.js';

const gated = gatedTask;

describe('tasks, supervision and locks', () => {
  const tmp = tempDir();
  let agent: ServiceProcess;
  let channel: Channel;
  let client: AgentServiceClient;
  let repo: Repo;
  let branches = 0;
  const dataDir = join(tmp.path, 'agent');
  const agentArgs = ['--worktree-root', join(tmp.path, 'wt'), '--cancel-grace', '500ms', '--task-log-cap', '4096', '--task-retention', '3'];

  async function startAgent() {
    agent = await startAgentProcess({ dataDir, extraArgs: agentArgs });
    ({ client, channel } = agentClient(agent.address));
  }
  async function restart(crash: boolean) {
    channel.close();
    if (crash) await agent.kill();
    else await agent.stop();
    await startAgent();
  }

  async function newSession(): Promise<Session> {
    const { session } = await client.createSession({
      repoIds: [repo.id],
      branch: `b${++branches}`,
      base: '',
      title: '',
      labels: {},
      requestId: '',
    });
    return session!;
  }
  const run = async (session: Session, argv: string[], prompt = '') =>
    (await client.startTask({ sessionId: session.id, argv, prompt, env: {}, repoId: '', requestId: '' })).task!;
  const until = (id: string, state: TaskState, timeoutMs = 45_000) =>
    waitFor(
      async () => {
        const task = await client.getTask({ id });
        // RUNNING is recorded before the runner is spawned: running means with its pid.
        return task.state === state && (state !== TaskState.TASK_STATE_RUNNING || task.pid > 0) ? task : undefined;
      },
      `task ${id} to be ${TaskState[state]}`,
      timeoutMs,
    );
  const ended = (id: string) =>
    waitFor(async () => {
      const task = await client.getTask({ id });
      return task.state !== TaskState.TASK_STATE_QUEUED && task.state !== TaskState.TASK_STATE_RUNNING ? task : undefined;
    }, `task ${id} to end`);

  beforeAll(async () => {
    await startAgent();
    repo = (await client.addRepo({ path: makeRepo(join(tmp.path, 'repo')), name: 'repo' })).repo!;
  });
  afterAll(async () => {
    channel?.close();
    await agent?.stop();
    tmp.remove();
  });

  it('finishes a launch in flight before a graceful stop closes the database', async () => {
    const session = await newSession();
    const task = await run(session, ['true']);
    // StartTask answers once the task is queued; its launch is still under way when the stop comes.
    channel.close();
    await agent.stop();
    const [row] = await querySql<{ state: string; pid: number }>(
      join(dataDir, 'agent.sqlite'),
      'select state, pid from task where id = ?',
      [task.id],
    );
    // Launched whole (its runner's pid recorded), or already finished: never cut off half-way.
    expect(row!.state === 'SUCCEEDED' || (row!.state === 'RUNNING' && row!.pid > 0)).toBe(true);
    await startAgent();
    expect((await ended(task.id)).state).toBe(TaskState.TASK_STATE_SUCCEEDED);
  });

  it('runs one task per session at a time, in order; activity is derived from them', async () => {
    const session = await newSession();
    const wt = session.worktrees[0]!.path;
    const first = await run(session, ['sh', '-c', `${waitForFile('go')}; echo 1 >> order.txt`]);
    const second = await run(session, ['sh', '-c', 'echo 2 >> order.txt']);
    const third = await run(session, ['sh', '-c', 'echo 3 >> order.txt']);
    await until(first.id, TaskState.TASK_STATE_RUNNING);
    expect((await client.getTask({ id: second.id })).state).toBe(TaskState.TASK_STATE_QUEUED);
    expect((await client.getTask({ id: third.id })).state).toBe(TaskState.TASK_STATE_QUEUED);
    expect((await client.getSession({ id: session.id })).activity).toBe(SessionActivity.SESSION_ACTIVITY_WORKING);
    writeFileSync(join(wt, 'go'), '');
    await until(third.id, TaskState.TASK_STATE_SUCCEEDED);
    expect(readFileSync(join(wt, 'order.txt'), 'utf8')).toBe('1\n2\n3\n');
    expect([first.seq, second.seq, third.seq]).toEqual([1, 2, 3]);
    expect((await client.getSession({ id: session.id })).activity).toBe(SessionActivity.SESSION_ACTIVITY_IDLE);
  });

  it('records fast completions right: exit code, output tail, reason', async () => {
    const session = await newSession();
    const ok = await run(session, ['true']);
    const bad = await run(session, ['sh', '-c', 'echo "to stdout"; echo "to stderr" >&2; exit 3']);
    const missing = await run(session, ['definitely-not-a-command-xyz']);
    const okDone = await ended(ok.id);
    expect(okDone.state).toBe(TaskState.TASK_STATE_SUCCEEDED);
    const badDone = await ended(bad.id);
    expect(badDone).toMatchObject({ state: TaskState.TASK_STATE_FAILED, exitCode: 3, reason: 'exited with code 3' });
    expect(badDone.outputTail).toContain('to stdout');
    expect(badDone.outputTail).toContain('to stderr');
    const missingDone = await ended(missing.id);
    expect(missingDone.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(missingDone.outputTail).toMatch(/could not start definitely-not-a-command-xyz/);
  });

  it('passes prompt and env, runs in the worktree, and serves the log by offset and by follow', async () => {
    const session = await newSession();
    const task = (
      await client.startTask({
        sessionId: session.id,
        argv: ['sh', '-c', 'pwd; echo "$GROVE_PROMPT"; echo "$EXTRA"'],
        prompt: 'fix the bug',
        env: { EXTRA: 'extra-value' },
        repoId: '',
        requestId: '',
      })
    ).task!;
    await ended(task.id);
    const all = await client.readTaskLog({ id: task.id, offset: 0, limit: 0 });
    expect(all.data.toString()).toBe(`${session.worktrees[0]!.path}\nfix the bug\nextra-value\n`);
    expect(all.eof).toBe(true);
    const part = await client.readTaskLog({ id: task.id, offset: 5, limit: 4 });
    expect(part.data.toString()).toBe(all.data.subarray(5, 9).toString());
    expect(part.nextOffset).toBe(9);

    const slow = await run(session, ['sh', '-c', `echo a; ${waitForFile('go2')}; echo b`]);
    const chunks: string[] = [];
    const following = (async () => {
      for await (const chunk of client.followTaskLog({ id: slow.id, offset: 0 })) chunks.push(chunk.data.toString());
    })();
    await waitFor(() => chunks.join('').includes('a\n') || undefined, 'first output');
    writeFileSync(join(session.worktrees[0]!.path, 'go2'), '');
    await following; // ends by itself once the task has ended and all output was sent
    expect(chunks.join('')).toBe('a\nb\n');
  });

  it('keeps only the tail of a large log, with logical offsets', async () => {
    const session = await newSession();
    // ~2.2 MB of numbered lines: over the 4 KiB cap and the runner's 1 MiB trim slack.
    const task = await run(session, ['sh', '-c', 'i=0; while [ $i -lt 200000 ]; do echo "line $i"; i=$((i+1)); done']);
    const done = await ended(task.id);
    expect(done.state).toBe(TaskState.TASK_STATE_SUCCEEDED);
    const log = await client.readTaskLog({ id: task.id, offset: 0, limit: 0 });
    expect(log.data.length).toBeLessThanOrEqual(4096);
    expect(log.data.toString().trimEnd().split('\n').pop()).toBe('line 199999');
    expect(log.nextOffset).toBeGreaterThan(2_000_000);
    expect(log.eof).toBe(true);
  });

  it('cancel ends the whole process group', async () => {
    const session = await newSession();
    const wt = session.worktrees[0]!.path;
    // The shell ignores TERM, so only the SIGKILL after the grace ends it; its child sleeps.
    const task = await run(session, ['sh', '-c', 'trap "" TERM; sleep 120 & echo $! > child.pid; wait']);
    await until(task.id, TaskState.TASK_STATE_RUNNING);
    const childPid = await waitFor(() => pidIn(join(wt, 'child.pid')), 'child pid file');
    expect(pidAlive(childPid)).toBe(true);
    const queued = await run(session, ['true']);
    await client.cancelTask({ id: queued.id });
    expect((await client.getTask({ id: queued.id })).state).toBe(TaskState.TASK_STATE_CANCELLED);
    await client.cancelTask({ id: task.id });
    const done = await until(task.id, TaskState.TASK_STATE_CANCELLED);
    expect(done.reason).toBe('cancelled on request');
    await waitFor(() => !pidAlive(childPid) || undefined, 'the grandchild to die');
    expect((await client.listLocks({})).locks.filter((l) => l.directory === wt)).toEqual([]);
  });

  it('a runner killed alone: the task stays RUNNING and locked until what it left is stopped, then INTERRUPTED', async () => {
    const session = await newSession();
    const wt = session.worktrees[0]!.path;
    // The command ignores TERM and outlives its runner: only the agent's SIGKILL ends it.
    const task = await run(session, ['sh', '-c', `trap "" TERM; echo $$ > task.pid; ${waitForFile('never')}`]);
    const running = await waitFor(async () => {
      const t = await client.getTask({ id: task.id });
      return t.state === TaskState.TASK_STATE_RUNNING && t.pid > 0 && pidIn(join(wt, 'task.pid')) ? t : undefined;
    }, 'the task to run with a pid');
    const commandPid = pidIn(join(wt, 'task.pid'))!;
    // The next task records whether the first one's command was still alive when it started.
    const next = await run(session, [
      'sh',
      '-c',
      `p=$(cat task.pid); if [ -d /proc/$p ] && ! grep -q "^State:.Z" /proc/$p/status; then echo overlap; else echo alone; fi`,
    ]);
    process.kill(running.pid, 'SIGKILL'); // the runner only (OOM killer style), not its group
    const ended = await until(task.id, TaskState.TASK_STATE_INTERRUPTED);
    expect(ended.reason).toMatch(/runner died/);
    expect(pidAlive(commandPid)).toBe(false);
    expect((await until(next.id, TaskState.TASK_STATE_SUCCEEDED)).outputTail).toBe('alone\n');
  });

  it('holds a PID+CWD lock while running; kill refuses while the task runs', async () => {
    const session = await newSession();
    const wt = session.worktrees[0]!.path;
    const task = await run(session, gated('go', 'done'));
    const running = await until(task.id, TaskState.TASK_STATE_RUNNING);
    const lock = (await client.listLocks({})).locks.find((l) => l.directory === wt)!;
    expect(lock.pid).toBe(running.pid);
    expect(lock.owner).toContain(task.id);
    await expectStatus(client.releaseLock({ directory: wt, force: false }), Status.FAILED_PRECONDITION, /still works in/);
    const kill = await client.killSession({ id: session.id });
    expect(kill.freed).toBe(false);
    expect(kill.refusals.map((r) => r.reason)).toContain('PROCESS_INSIDE');
    writeFileSync(join(wt, 'go'), '');
    await until(task.id, TaskState.TASK_STATE_SUCCEEDED);
    expect((await client.listLocks({})).locks.some((l) => l.directory === wt)).toBe(false);
  });

  it('refuses bad task input and changes nothing', async () => {
    const session = await newSession();
    const { revision } = await client.getAgentInfo({});
    await expectStatus(run(session, []), Status.INVALID_ARGUMENT, /argv/);
    await expectStatus(
      client.startTask({ sessionId: session.id, argv: ['x'], prompt: '', env: { 'BAD-KEY': 'v' }, repoId: '', requestId: '' }),
      Status.INVALID_ARGUMENT,
    );
    await expectStatus(
      client.startTask({ sessionId: 'nope', argv: ['x'], prompt: '', env: {}, repoId: '', requestId: '' }),
      Status.INVALID_ARGUMENT,
    );
    await expectStatus(
      client.startTask({ sessionId: 'ses_0000000000000000000000', argv: ['x'], prompt: '', env: {}, repoId: '', requestId: '' }),
      Status.NOT_FOUND,
    );
    await expectStatus(client.getTask({ id: 'tsk_0000000000000000000000' }), Status.NOT_FOUND);
    expect((await client.getAgentInfo({})).revision).toBe(revision);
  });

  it('keeps the newest N tasks per session', async () => {
    const session = await newSession();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await run(session, ['true'])).id);
    await ended(ids[4]!);
    await waitFor(async () => {
      const { tasks } = await client.listTasks({ sessionId: session.id, pageSize: 0, pageToken: '', state: 0 });
      return tasks.length === 3 ? tasks : undefined;
    }, 'retention');
    const { tasks } = await client.listTasks({ sessionId: session.id, pageSize: 0, pageToken: '', state: 0 });
    expect(tasks.map((t) => t.id)).toEqual(ids.slice(2));
  });

  it('50 tasks across 50 sessions in parallel all end in the right state', async () => {
    const sessions: Session[] = [];
    for (let i = 0; i < 50; i++) sessions.push(await newSession());
    const tasks: Task[] = await Promise.all(sessions.map((s, i) => run(s, ['sh', '-c', `echo ${i}; exit ${i % 3}`])));
    const done = await Promise.all(tasks.map((t) => ended(t.id)));
    done.forEach((task, i) => {
      expect(task.state).toBe(i % 3 === 0 ? TaskState.TASK_STATE_SUCCEEDED : TaskState.TASK_STATE_FAILED);
      expect(task.outputTail).toBe(`${i}\n`);
    });
  });

  it('SIGKILL of the agent while a task runs: the task is re-adopted and recorded with its output', async () => {
    const session = await newSession();
    const wt = session.worktrees[0]!.path;
    const survivor = await run(session, gated('go', 'survived'));
    await until(survivor.id, TaskState.TASK_STATE_RUNNING);
    const other = await newSession();
    const finishesWhileDown = await run(other, gated('go', 'finished-while-down'));
    await until(finishesWhileDown.id, TaskState.TASK_STATE_RUNNING);

    channel.close();
    await agent.kill();
    writeFileSync(join(other.worktrees[0]!.path, 'go'), ''); // ends while no agent watches
    await startAgent();
    expect((await client.getTask({ id: survivor.id })).state).toBe(TaskState.TASK_STATE_RUNNING);
    const downDone = await until(finishesWhileDown.id, TaskState.TASK_STATE_SUCCEEDED);
    expect(downDone.outputTail).toBe('finished-while-down\n');
    writeFileSync(join(wt, 'go'), '');
    const done = await until(survivor.id, TaskState.TASK_STATE_SUCCEEDED);
    expect(done.outputTail).toBe('survived\n');
  });

  it('SIGKILL of agent and task: INTERRUPTED with a reason; a second restart changes nothing', async () => {
    const session = await newSession();
    const task = await run(session, gated('never', 'x'));
    // RUNNING is recorded before the runner is spawned: wait for its pid too.
    const running = await waitFor(async () => {
      const t = await client.getTask({ id: task.id });
      return t.state === TaskState.TASK_STATE_RUNNING && t.pid > 0 ? t : undefined;
    }, 'the task to run with a pid');
    const queued = await run(session, ['sh', '-c', 'echo queued-ran']);
    channel.close();
    await agent.kill();
    signalGroup(running.pid, 'SIGKILL');
    await waitFor(() => !pidAlive(running.pid) || undefined, 'the runner to die');
    await startAgent();
    const interrupted = await client.getTask({ id: task.id });
    expect(interrupted).toMatchObject({ state: TaskState.TASK_STATE_INTERRUPTED, reason: 'agent restarted; process gone' });
    const queuedDone = await until(queued.id, TaskState.TASK_STATE_SUCCEEDED); // the queue resumed
    expect(queuedDone.outputTail).toBe('queued-ran\n');
    expect((await client.getSession({ id: session.id })).activity).toBe(SessionActivity.SESSION_ACTIVITY_IDLE);

    const before = await client.listTasks({ sessionId: '', pageSize: 1000, pageToken: '', state: 0 });
    const { revision } = await client.getAgentInfo({});
    await restart(false);
    const after = await client.listTasks({ sessionId: '', pageSize: 1000, pageToken: '', state: 0 });
    expect(after.tasks).toEqual(before.tasks);
    const recovered: unknown[] = [];
    for await (const event of client.watchEvents({ afterRevision: revision })) {
      if (event.payload?.$case === 'recovered') {
        recovered.push(event.payload.value);
        break;
      }
      expect(event.type).toBe('agent.recovered'); // nothing but the summary was written
    }
    expect(recovered).toEqual([
      { tasksReadopted: 0, tasksFinalized: 0, tasksInterrupted: 0, locksReleased: 0, jobsRetried: 0, jobsFailed: 0, removalsRetried: 0 },
    ]);
  });

  it('respects a lock whose holder lives; releases one whose pid was reused (wrong start time)', async () => {
    const held = await newSession();
    const reused = await newSession();
    const heldDir = held.worktrees[0]!.path;
    const reusedDir = reused.worktrees[0]!.path;
    const holder = spawn('sleep', ['60'], { cwd: heldDir, stdio: 'ignore' });
    try {
      await waitFor(() => startTicks(holder.pid!), 'the holder to start');
      channel.close();
      await agent.stop();
      const db = join(dataDir, 'agent.sqlite');
      const insert = 'insert into dir_lock (directory, pid, pid_start_ticks, boot_id, owner, locked_at) values (?, ?, ?, ?, ?, ?)';
      await execSql(db, insert, [heldDir, holder.pid, startTicks(holder.pid!), bootId(), 'someone else', Date.now()]);
      await execSql(db, insert, [reusedDir, holder.pid, startTicks(holder.pid!)! - 1, bootId(), 'a dead task', Date.now()]);
      await startAgent();

      const locks = (await client.listLocks({})).locks.map((l) => l.directory);
      expect(locks).toContain(heldDir);
      expect(locks).not.toContain(reusedDir); // released at start-up: the pid is someone else now
      await expectStatus(run(held, ['true']), Status.FAILED_PRECONDITION, new RegExp(`locked by pid ${holder.pid} \\(someone else\\)`));
      expect((await ended((await run(reused, ['true'])).id)).state).toBe(TaskState.TASK_STATE_SUCCEEDED);
      expect(await client.releaseLock({ directory: heldDir, force: true })).toEqual({ released: true });
      expect((await ended((await run(held, ['true'])).id)).state).toBe(TaskState.TASK_STATE_SUCCEEDED);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('a crash between spawning the runner and recording it neither loses nor repeats the run', async () => {
    for (const [point, expected] of [
      ['task.after_spawn', TaskState.TASK_STATE_SUCCEEDED],
      ['task.before_spawn', TaskState.TASK_STATE_INTERRUPTED],
    ] as const) {
      const session = await newSession();
      const wt = session.worktrees[0]!.path;
      channel.close();
      await agent.stop();
      agent = await startAgentProcess({ dataDir, extraArgs: agentArgs, env: { GROVE_ENABLE_CRASH_POINTS: '1', GROVE_CRASH_AT: point } });
      ({ client, channel } = agentClient(agent.address));
      const task = await run(session, ['sh', '-c', `echo ran >> runs.txt; ${waitForFile('go')}`]);
      expect(await agent.exited).toBeNull(); // died at the crash point
      channel.close();
      await startAgent();
      if (expected === TaskState.TASK_STATE_SUCCEEDED) {
        expect((await client.getTask({ id: task.id })).state).toBe(TaskState.TASK_STATE_RUNNING); // adopted
        writeFileSync(join(wt, 'go'), '');
      }
      const done = await until(task.id, expected);
      if (expected === TaskState.TASK_STATE_INTERRUPTED) expect(done.reason).toBe('agent restarted; process gone');
      const runs = existsSync(join(wt, 'runs.txt')) ? readFileSync(join(wt, 'runs.txt'), 'utf8') : '';
      expect(runs).toBe(expected === TaskState.TASK_STATE_SUCCEEDED ? 'ran\n' : '');
    }
  });
});
