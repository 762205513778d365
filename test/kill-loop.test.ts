import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ClientError } from 'nice-grpc';
import { afterAll, describe, expect, it } from 'vitest';
import { JobKind, JobState, TaskState, WorktreeState, type Session } from '../gen/grove/agent/v1/resources.js';
import type { AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import { signalGroup } from './helpers/fixtures.js';
import { gitSync, makeRepo } from './helpers/git-repo.js';
import { agentClient } from './helpers/grpc.js';
import { pidAlive, startAgentProcess, waitFor } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

/**
 * Kill loops in the style of Nomad's client-state tests: while sessions are created and
 * dirtied, tasks run, and cleanups (direct and as jobs) remove worktrees, the agent is
 * SIGKILLed at random moments (alone, or with its whole process group, its git children
 * included), restarted, and checked. After every restart: every byte of dirty work is in
 * its worktree or in the recorded preserved ref (sha256 per file), no task is RUNNING
 * without a live runner, no job stays RUNNING, and nothing was made twice.
 * KILL_LOOP_ROUNDS sets how many kills each loop makes (a fixed seed, KILL_LOOP_SEED, picks
 * the moments). Rounds, not seconds: on a busy machine each round takes longer, not fewer.
 */
const ROUNDS = Number(process.env.KILL_LOOP_ROUNDS ?? 6);
const SEED = Number(process.env.KILL_LOOP_SEED ?? 1201);

/** A small seeded generator (mulberry32): the same seed, the same kill moments. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

interface Ledger {
  /** Per session: the dirty files the test wrote (path -> sha256), all in the one repo. */
  work: Map<string, Map<string, string>>;
  /** Each create's request id, and the session it answered. */
  creates: Map<string, string>;
}

describe('kill loops', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it.each([
    ['the agent alone', false],
    ['the agent with its whole process group', true],
  ])('SIGKILL of %s at random moments never loses work or leaves anything stuck', async (_what, wholeGroup) => {
    const dir = join(tmp.path, wholeGroup ? 'group' : 'alone');
    const dataDir = join(dir, 'agent');
    const args = ['--worktree-root', join(dir, 'wt'), '--cancel-grace', '200ms'];
    const next = random(SEED + (wholeGroup ? 1 : 0));
    const ledger: Ledger = { work: new Map(), creates: new Map() };
    const repoPath = makeRepo(join(dir, 'repo'), { 'README.md': '# r\n', 'src/a.txt': 'a\n', 'src/b.txt': 'b\n' });
    let agent = await startAgentProcess({ dataDir, extraArgs: args, spawn: { detached: wholeGroup } });
    let { client, channel } = agentClient(agent.address);
    const repo = (await client.addRepo({ path: repoPath, name: 'repo', keepIgnored: [] })).repo!;
    let counter = 0;
    let restarts = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // Each round makes progress whatever the machine's load: one session is created and
        // dirtied before the faults begin, then more work is in flight when the kill comes.
        await operation(client, repo.id, ledger, next, ++counter, true);
        const ops = Array.from({ length: 6 }, () => operation(client, repo.id, ledger, next, ++counter).catch(() => undefined));
        await new Promise((resolve) => setTimeout(resolve, 30 + next() * 400)); // the fault's moment
        if (wholeGroup) signalGroup(agent.child.pid!, 'SIGKILL');
        else agent.child.kill('SIGKILL');
        await agent.exited;
        await Promise.all(ops);
        channel.close();
        agent = await startAgentProcess({ dataDir, extraArgs: args, spawn: { detached: wholeGroup } });
        ({ client, channel } = agentClient(agent.address));
        restarts++;
        await checkInvariants(client, repoPath, ledger);
      }
      expect(restarts).toBe(ROUNDS);
      expect(ledger.work.size).toBeGreaterThanOrEqual(ROUNDS);
    } finally {
      channel.close();
      await agent.stop();
    }
  });
});

/** One random step of a user's day: create and dirty a session, run a task, or tear one down. */
async function operation(
  client: AgentServiceClient,
  repoId: string,
  ledger: Ledger,
  next: () => number,
  n: number,
  create = false,
): Promise<void> {
  const sessions = [...ledger.work.keys()];
  const pick = () => sessions[Math.floor(next() * sessions.length)];
  const choice = next();
  if (create || choice < 0.45 || sessions.length === 0) {
    const requestId = `create-${n}`;
    const { session } = await client.createSession({ repoIds: [repoId], branch: `b${n}`, base: '', title: '', labels: {}, requestId });
    ledger.creates.set(requestId, session!.id);
    const files = new Map<string, string>();
    const wt = session!.worktrees[0]!.path;
    for (const [path, content] of [
      ['src/a.txt', `edited ${n}\n`],
      [`new/${n}.txt`, `untracked ${n} ${'x'.repeat(Math.floor(next() * 5000))}\n`],
    ] as const) {
      mkdirSync(dirname(join(wt, path)), { recursive: true });
      writeFileSync(join(wt, path), content);
      files.set(path, sha(content));
    }
    ledger.work.set(session!.id, files);
  } else if (choice < 0.65) {
    await client.startTask({
      sessionId: pick()!,
      argv: ['sh', '-c', 'sleep 0.3; echo done'],
      prompt: '',
      env: {},
      repoId: '',
      requestId: '',
    });
  } else if (choice < 0.85) {
    await client.cleanupSession({ id: pick()! });
  } else {
    await client.submitJob({
      kind: JobKind.JOB_KIND_CLEANUP_SESSION,
      sessionId: pick()!,
      repoId: '',
      branch: '',
      base: '',
      sessionIds: [],
      idempotencyKey: `job-${n}`,
    });
  }
}

async function checkInvariants(client: AgentServiceClient, repoPath: string, ledger: Ledger): Promise<void> {
  // Every byte of dirty work: in its worktree, or in the preserved ref its row records.
  for (const [sessionId, files] of ledger.work) {
    const session: Session = await client.getSession({ id: sessionId });
    const row = session.worktrees[0]!;
    for (const [path, digest] of files) {
      const where = `${sessionId}/${path} (worktree ${WorktreeState[row.state]})`;
      if (row.state === WorktreeState.WORKTREE_STATE_ACTIVE) {
        const file = join(row.path, path);
        expect(existsSync(file) && sha(readFileSync(file)), `${where}: lost from the worktree`).toBe(digest);
      } else {
        expect(row.preservedRef, `${where}: removed without a preserved ref`).not.toBe('');
        const kept = execFileSync('git', ['show', `${row.preservedRef}:${path}`], { cwd: repoPath });
        expect(sha(kept), `${where}: the preserved copy differs`).toBe(digest);
      }
    }
  }
  // No task RUNNING without a live runner; none left "starting" after recovery.
  const { tasks } = await client.listTasks({ sessionId: '', pageSize: 1000, pageToken: '', state: TaskState.TASK_STATE_RUNNING });
  for (const task of tasks) {
    expect(task.pid, `task ${task.id} RUNNING with no runner recorded`).toBeGreaterThan(0);
    const alive = pidAlive(task.pid);
    if (!alive) {
      // It may have ended between the list and the probe: then the agent says so shortly.
      await waitFor(
        async () => ((await client.getTask({ id: task.id })).state !== TaskState.TASK_STATE_RUNNING ? true : undefined),
        `task ${task.id} to stop claiming RUNNING`,
      );
    }
  }
  // No job stays RUNNING or QUEUED: each ends (retried or failed with a reason).
  await waitFor(async () => {
    const { jobs } = await client.listJobs({ repoId: '', pageSize: 1000, pageToken: '', state: 0, kind: 0 });
    return jobs.every((j) => j.state !== JobState.JOB_STATE_RUNNING && j.state !== JobState.JOB_STATE_QUEUED) ? true : undefined;
  }, 'every job to end');
  // Nothing made twice: a create retried with its request id answers the same session.
  const { sessions } = await client.listSessions({ pageSize: 1000, pageToken: '', state: 0, repoId: '', labelSelector: '' });
  const branches = sessions.map((s) => s.branch);
  expect(new Set(branches).size, 'two sessions on one branch').toBe(branches.length);
  for (const [requestId, sessionId] of ledger.creates) {
    const again = await client
      .createSession({ repoIds: ['repo'], branch: `b${requestId.slice('create-'.length)}`, base: '', title: '', labels: {}, requestId })
      .catch((err: unknown) => err);
    if (again instanceof ClientError) throw new Error(`retrying ${requestId} failed: ${again.message}`);
    expect((again as { session: Session }).session.id).toBe(sessionId);
  }
  expect(gitSync(repoPath, 'worktree', 'list').length).toBeGreaterThan(0);
}
