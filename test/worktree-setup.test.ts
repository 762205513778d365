import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Status, type Channel } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import { SessionState, TaskState, WorktreeState, type Session } from '../gen/grove/agent/v1/resources.js';
import { grove, json } from './helpers/cli.js';
import { waitForFile } from './helpers/fixtures.js';
import { gitSync, makeRepo } from './helpers/git-repo.js';
import { agentClient, expectStatus } from './helpers/grpc.js';
import { startAgentProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { createSessionRequest, startTaskRequest } from './helpers/requests.js';
import { tempDir } from './helpers/temp.js';

describe('worktree setup and teardown: repo add --setup, --teardown, --copy', () => {
  const tmp = tempDir();
  let tests = 0;
  let dir = '';
  let agent: ServiceProcess | undefined;
  let channel: Channel | undefined;
  let client: AgentServiceClient;
  let repoPath = '';

  /** A fresh agent and a repo whose main checkout holds an ignored .env and an untracked notes.txt. */
  async function fresh(): Promise<void> {
    dir = join(tmp.path, `t${++tests}`);
    agent = await startAgentProcess({ dataDir: join(dir, 'agent') });
    ({ client, channel } = agentClient(agent.address));
    repoPath = makeRepo(join(dir, 'repo'), { 'README.md': '# app\n', '.gitignore': '.env\n' });
    writeFileSync(join(repoPath, '.env'), 'SECRET=main-checkout\n');
    writeFileSync(join(repoPath, 'notes.txt'), 'not copied\n');
  }
  afterEach(async () => {
    channel?.close();
    await agent?.stop();
    agent = undefined;
  });

  const addRepo = (...flags: string[]) => grove(['repo', 'add', repoPath, '--name', 'app', ...flags, '--agent', agent!.address]);
  const newSession = async (branch: string): Promise<Session> =>
    (await client.createSession(createSessionRequest({ repoIds: ['app'], branch }))).session!;
  const sessionState = async (id: string) => (await client.getSession({ id })).state;

  it('copies .env, runs setup as the first task while SETTING_UP, then turns ACTIVE and runs what waited', async () => {
    await fresh();
    // Setup waits for a gate, so the test sees SETTING_UP; it records GROVE_PORT-free proof it ran.
    const added = await addRepo('--copy', '.env', '--setup', `${waitForFile('setup-gate')}; cat .env > setup-saw.txt`);
    expect(added.code).toBe(0);
    expect(json(await grove(['repo', 'get', 'app', '--json', '--agent', agent!.address]))).toMatchObject({
      setup: expect.stringContaining('setup-saw.txt'),
      copy: ['.env'],
    });
    const session = await newSession('feature');
    expect(session.state).toBe(SessionState.SESSION_STATE_SETTING_UP);
    const worktree = session.worktrees[0]!;
    expect(readFileSync(join(worktree.path, '.env'), 'utf8')).toBe('SECRET=main-checkout\n');
    expect(existsSync(join(worktree.path, 'notes.txt'))).toBe(false);
    expect(worktree.copied).toEqual(['.env']);
    // The setup task is the session's first task; a task started now waits behind it.
    const { tasks } = await client.listTasks({ sessionId: session.id });
    expect(tasks.map((t) => [t.seq, t.setup])).toEqual([[1, true]]);
    const setupTask = tasks[0]!;
    const user = (await client.startTask(startTaskRequest({ sessionId: session.id, argv: ['sh', '-c', 'cat setup-saw.txt'] }))).task!;
    await waitFor(
      async () => ((await client.getTask({ id: setupTask.id })).state === TaskState.TASK_STATE_RUNNING ? true : undefined),
      'setup running',
    );
    expect((await client.getTask({ id: user.id })).state).toBe(TaskState.TASK_STATE_QUEUED);
    expect(json(await grove(['session', 'get', session.id, '--json', '--agent', agent!.address]))).toMatchObject({
      state: 'SESSION_STATE_SETTING_UP',
    });
    writeFileSync(join(worktree.path, 'setup-gate'), '');
    await waitFor(
      async () => ((await sessionState(session.id)) === SessionState.SESSION_STATE_ACTIVE ? true : undefined),
      'session ACTIVE',
    );
    await waitFor(
      async () => ((await client.getTask({ id: user.id })).state === TaskState.TASK_STATE_SUCCEEDED ? true : undefined),
      'user task ran',
    );
    // The user's task ran after setup, in the set-up worktree.
    expect((await client.readTaskLog({ id: user.id, offset: 0, limit: 0 })).data.toString()).toBe('SECRET=main-checkout\n');
    // The setup task's log is there like any task's.
    expect((await client.getTask({ id: setupTask.id })).state).toBe(TaskState.TASK_STATE_SUCCEEDED);
  });

  it('a failing setup shows SETUP_FAILED with its task and log; new tasks are refused, queued ones cancelled; kill still works', async () => {
    await fresh();
    expect((await addRepo('--setup', `${waitForFile('setup-gate')}; echo npm ci failed; exit 3`)).code).toBe(0);
    const session = await newSession('broken');
    const queued = (await client.startTask(startTaskRequest({ sessionId: session.id, argv: ['true'] }))).task!;
    writeFileSync(join(session.worktrees[0]!.path, 'setup-gate'), '');
    await waitFor(
      async () => ((await sessionState(session.id)) === SessionState.SESSION_STATE_SETUP_FAILED ? true : undefined),
      'SETUP_FAILED',
    );
    const failed = await client.getSession({ id: session.id });
    expect(failed.lastError).toMatch(/setup of the app worktree exited with 3; its log: grove task logs tsk_/);
    const setupId = /grove task logs (tsk_\S+)/.exec(failed.lastError)![1]!;
    const logs = await grove(['task', 'logs', setupId, '--agent', agent!.address]);
    expect(logs.stdout).toContain('npm ci failed');
    const cancelled = await client.getTask({ id: queued.id });
    expect(cancelled.state).toBe(TaskState.TASK_STATE_CANCELLED);
    expect(cancelled.reason).toMatch(/setup failed/);
    await expectStatus(
      client.startTask(startTaskRequest({ sessionId: session.id, argv: ['true'] })),
      Status.FAILED_PRECONDITION,
      /is not set up/,
    );
    // The gate file is the only change, and it is untracked work: kill refuses on it, as ever.
    const refused = await grove(['session', 'kill', session.id, '--agent', agent!.address]);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/DIRTY_UNTRACKED/);
    gitSync(session.worktrees[0]!.path, 'clean', '-fdq');
    const killed = await grove(['session', 'kill', session.id, '--agent', agent!.address]);
    expect(killed.code).toBe(0);
    expect(await sessionState(session.id)).toBe(SessionState.SESSION_STATE_STOPPED);
  });

  it('unchanged copies are not work (kill removes them); a changed copy is, and kill refuses', async () => {
    await fresh();
    // .env is ignored (kept as work by --keep-ignored); notes.txt is untracked and not ignored.
    expect((await addRepo('--copy', '.env', '--copy', 'notes.txt', '--keep-ignored', '.env')).code).toBe(0);
    const clean = await newSession('copies-clean');
    expect(clean.state).toBe(SessionState.SESSION_STATE_ACTIVE);
    expect(clean.worktrees[0]!.copied.sort()).toEqual(['.env', 'notes.txt']);
    const killed = await client.killSession({ id: clean.id });
    expect(killed.refusals).toEqual([]);
    expect(killed.freed).toBe(true);

    const edited = await newSession('copies-edited');
    writeFileSync(join(edited.worktrees[0]!.path, '.env'), 'SECRET=edited-in-the-worktree\n');
    writeFileSync(join(edited.worktrees[0]!.path, 'notes.txt'), 'my notes\n');
    const refused = await client.killSession({ id: edited.id });
    expect(refused.freed).toBe(false);
    // Both copies were changed: each is work again (notes.txt untracked, .env a kept ignored file).
    const reasons = Object.fromEntries(refused.refusals.map((r) => [r.reason, r.message]));
    expect(Object.keys(reasons).sort()).toEqual(['DIRTY_UNTRACKED', 'KEPT_IGNORED']);
    expect(reasons.DIRTY_UNTRACKED).toMatch(/notes\.txt/);
    expect(reasons.KEPT_IGNORED).toMatch(/\.env/);
    expect(readFileSync(join(edited.worktrees[0]!.path, '.env'), 'utf8')).toBe('SECRET=edited-in-the-worktree\n');
  });

  it('teardown runs before cleanup removes the worktree; its failure is recorded and the work is preserved all the same', async () => {
    await fresh();
    const marker = join(dir, 'teardown-ran');
    expect((await addRepo('--teardown', `echo "$GROVE_SESSION_ID" > ${marker}; echo cannot stop the server >&2; exit 7`)).code).toBe(0);
    const session = await newSession('torn');
    const worktree = session.worktrees[0]!;
    writeFileSync(join(worktree.path, 'work.txt'), 'uncommitted work\n');
    const cleaned = (await client.cleanupSession({ id: session.id })).session!;
    expect(readFileSync(marker, 'utf8').trim()).toBe(session.id);
    const row = cleaned.worktrees[0]!;
    expect(row.state).toBe(WorktreeState.WORKTREE_STATE_UNAVAILABLE);
    expect(row.teardownError).toMatch(/teardown exited with 7: cannot stop the server/);
    // The work is in the preserved ref, byte for byte.
    expect(gitSync(repoPath, 'show', `${row.preservedRef}:work.txt`)).toBe('uncommitted work\n');
    expect(existsSync(worktree.path)).toBe(false);
    const shown = await grove(['session', 'get', session.id, '--agent', agent!.address]);
    expect(shown.stdout).toMatch(/teardown exited with 7/);
  });

  it('a restored worktree is set up again: the copies come back and its setup runs once more', async () => {
    await fresh();
    expect((await addRepo('--copy', '.env', '--setup', 'echo set up >> setup-runs.log')).code).toBe(0);
    const session = await newSession('restored');
    await waitFor(async () => ((await sessionState(session.id)) === SessionState.SESSION_STATE_ACTIVE ? true : undefined), 'first setup');
    const worktree = session.worktrees[0]!.path;
    // The setup's log file is untracked work now: cleanup preserves it, then restore brings it back.
    await client.cleanupSession({ id: session.id });
    expect(existsSync(worktree)).toBe(false);
    const restored = (await client.restoreSessions({ ids: [session.id], all: false })).sessions[0]!;
    expect(restored.state).toBe(SessionState.SESSION_STATE_SETTING_UP);
    expect(readFileSync(join(worktree, '.env'), 'utf8')).toBe('SECRET=main-checkout\n');
    await waitFor(async () => ((await sessionState(session.id)) === SessionState.SESSION_STATE_ACTIVE ? true : undefined), 'second setup');
    const { tasks } = await client.listTasks({ sessionId: session.id });
    expect(tasks.filter((t) => t.setup).map((t) => [t.seq, t.state])).toEqual([
      [1, TaskState.TASK_STATE_SUCCEEDED],
      [2, TaskState.TASK_STATE_SUCCEEDED],
    ]);
    expect(readFileSync(join(worktree, 'setup-runs.log'), 'utf8')).toBe('set up\n');
  });

  it('refuses bad settings with clear errors and changes nothing', async () => {
    await fresh();
    const missing = await grove(['repo', 'set', 'nosuch', '--setup', 'npm ci', '--agent', agent!.address]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no repo "nosuch"/);
    expect((await addRepo()).code).toBe(0);
    const badGlob = await grove(['repo', 'set', 'app', '--copy', '../secrets', '--agent', agent!.address]);
    expect(badGlob.stderr).toMatch(/copy glob "..\/secrets" must stay inside the worktree/);
    const both = await grove(['repo', 'set', 'app', '--setup', 'x', '--no-setup', '--agent', agent!.address]);
    expect(both.stderr).toMatch(/--setup and --no-setup exclude each other/);
    await expectStatus(
      client.updateRepo({
        id: 'app',
        settings: { keepIgnored: [], setup: 'x'.repeat(5000), teardown: '', copy: [] },
        updateMask: ['setup'],
      }),
      Status.INVALID_ARGUMENT,
      /setup command is over 4096 characters/,
    );
    expect((await client.getRepo({ id: 'app' })).setup).toBe('');
    // A setting changed later applies to sessions made after it.
    expect((await grove(['repo', 'set', 'app', '--setup', 'true', '--agent', agent!.address])).code).toBe(0);
    expect((await client.getRepo({ id: 'app' })).setup).toBe('true');
    expect((await grove(['repo', 'set', 'app', '--no-setup', '--agent', agent!.address])).code).toBe(0);
    expect((await client.getRepo({ id: 'app' })).setup).toBe('');
  });
});
