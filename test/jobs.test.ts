import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { waitForFile } from './helpers/fixtures.js';
import { join } from 'node:path';
import { Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import { JobKind, JobState, SessionState, WorktreeState, type Job, type Repo } from '../gen/grove/agent/v1/resources.js';
import { commitAll, gitSync, makeRepo, writeFiles } from './helpers/git-repo.js';
import { agentClient, expectStatus } from './helpers/grpc.js';
import { startAgentProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

describe('durable background jobs', () => {
  const tmp = tempDir();
  const dataDir = join(tmp.path, 'agent');
  const args = ['--worktree-root', join(tmp.path, 'wt'), '--job-concurrency', '3'];
  let agent: ServiceProcess;
  let channel: Channel;
  let client: AgentServiceClient;
  let count = 0;

  async function startAgent(env: Record<string, string> = {}) {
    agent = await startAgentProcess({ dataDir, extraArgs: args, env });
    ({ client, channel } = agentClient(agent.address));
  }

  /**
   * A clone of a real local remote. Its fetches wait for `gate` to exist (a slow network,
   * made real: git runs this upload-pack command for the local transport).
   */
  async function clonedRepo(): Promise<{ repo: Repo; gate: string; origin: string }> {
    const name = `r${++count}`;
    const origin = makeRepo(join(tmp.path, `${name}-origin`), { 'file.txt': 'base\n' });
    const clonePath = join(tmp.path, name);
    gitSync(tmp.path, 'clone', '--quiet', origin, clonePath);
    gitSync(clonePath, 'config', 'user.name', 'T');
    gitSync(clonePath, 'config', 'user.email', 't@example.invalid');
    const gate = join(tmp.path, `${name}.gate`);
    gitSync(clonePath, 'config', 'remote.origin.uploadpack', `sh -c '${waitForFile(gate)}; exec git-upload-pack "$1"' --`);
    const repo = (await client.addRepo({ path: clonePath, name })).repo!;
    return { repo, gate, origin };
  }

  const submit = (kind: JobKind, repo: Repo | undefined, extra: Partial<{ branch: string; base: string; idempotencyKey: string }> = {}) =>
    client
      .submitJob({
        kind,
        repoId: repo?.id ?? '',
        branch: extra.branch ?? '',
        base: extra.base ?? '',
        sessionId: '',
        sessionIds: [],
        idempotencyKey: extra.idempotencyKey ?? '',
      })
      .then((r) => r.job!);
  const until = (id: string, ...states: JobState[]) =>
    waitFor(
      async () => {
        const job = await client.getJob({ id });
        return states.includes(job.state) ? job : undefined;
      },
      `job ${id} to reach ${states.map((s) => JobState[s]).join('/')}`,
    );

  beforeAll(() => startAgent());
  afterAll(async () => {
    channel?.close();
    await agent?.stop();
    tmp.remove();
  });

  it('accepts at once while a job runs for seconds, and is idempotent on its key', async () => {
    const { repo, gate, origin } = await clonedRepo();
    commitAll(writeAndReturn(origin, 'new.txt', 'n'), 'upstream change');
    const job = await submit(JobKind.JOB_KIND_SYNC_REPO, repo, { idempotencyKey: 'fetch-1' });
    expect(job.state).toBe(JobState.JOB_STATE_QUEUED);
    const running = await until(job.id, JobState.JOB_STATE_RUNNING);
    expect(running.attempts).toBe(1);
    // The fetch is blocked on the gate; submissions are still answered immediately.
    const again = await submit(JobKind.JOB_KIND_SYNC_REPO, repo, { idempotencyKey: 'fetch-1' });
    expect(again.id).toBe(job.id);
    expect((await client.getJob({ id: job.id })).state).toBe(JobState.JOB_STATE_RUNNING);
    writeFileSync(gate, '');
    const done = await until(job.id, JobState.JOB_STATE_SUCCEEDED);
    expect(done.progressPercent).toBe(100);
    expect(gitSync(repo.path, 'log', '--oneline', 'origin/main')).toContain('upstream change');
  });

  it("shows a running job's progress, though progress is written behind", async () => {
    const slow = await clonedRepo();
    const job = await submit(JobKind.JOB_KIND_SYNC_REPO, slow.repo);
    // Blocked on the gate, mid-fetch: its progress report reaches the row on its own.
    const reported = await waitFor(async () => {
      const row = await client.getJob({ id: job.id });
      return row.progressMessage === 'fetching from origin' ? row : undefined;
    }, 'the fetch to show its progress');
    expect(reported.progressPercent).toBe(10);
    writeFileSync(slow.gate, '');
    await until(job.id, JobState.JOB_STATE_SUCCEEDED);
  });

  it('runs one job per repo at a time; other repos proceed; queued and running jobs cancel', async () => {
    const a = await clonedRepo();
    const b = await clonedRepo();
    writeFileSync(b.gate, '');
    const blocking = await submit(JobKind.JOB_KIND_SYNC_REPO, a.repo);
    await until(blocking.id, JobState.JOB_STATE_RUNNING);
    const waiting = await submit(JobKind.JOB_KIND_SYNC_REPO, a.repo);
    const cancelMe = await submit(JobKind.JOB_KIND_SYNC_REPO, a.repo);
    const other = await submit(JobKind.JOB_KIND_SYNC_REPO, b.repo);
    await until(other.id, JobState.JOB_STATE_SUCCEEDED);
    expect((await client.getJob({ id: waiting.id })).state).toBe(JobState.JOB_STATE_QUEUED);
    expect((await client.cancelJob({ id: cancelMe.id })).job!.state).toBe(JobState.JOB_STATE_CANCELLED);
    const cancelled = await client.cancelJob({ id: blocking.id });
    expect([JobState.JOB_STATE_RUNNING, JobState.JOB_STATE_CANCELLED]).toContain(cancelled.job!.state);
    await until(blocking.id, JobState.JOB_STATE_CANCELLED);
    await until(waiting.id, JobState.JOB_STATE_RUNNING); // the repo is free again
    writeFileSync(a.gate, '');
    await until(waiting.id, JobState.JOB_STATE_SUCCEEDED);
    expect((await client.getJob({ id: cancelMe.id })).state).toBe(JobState.JOB_STATE_CANCELLED);
  });

  it('rebases a branch onto its parent', async () => {
    const { repo } = await clonedRepo();
    gitSync(repo.path, 'checkout', '--quiet', '-b', 'feature');
    commitAll(writeAndReturn(repo.path, 'feature.txt', 'f'), 'feature work');
    gitSync(repo.path, 'checkout', '--quiet', 'main');
    commitAll(writeAndReturn(repo.path, 'main.txt', 'm'), 'main moved');
    const reg = await submit(JobKind.JOB_KIND_REGISTER_BRANCH, repo, { branch: 'feature', base: 'main' });
    expect((await until(reg.id, JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED)).result).toMatch(
      /registered feature \(parent main/,
    );
    const job = await submit(JobKind.JOB_KIND_REBASE_BRANCH, repo, { branch: 'feature' });
    const done = await until(job.id, JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED);
    expect(done.error).toBe('');
    expect(done.state).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(gitSync(repo.path, 'merge-base', 'main', 'feature').trim()).toBe(gitSync(repo.path, 'rev-parse', 'main').trim());
    expect(gitSync(repo.path, 'worktree', 'list')).not.toContain('job-worktrees'); // scratch removed
  });

  it('a conflicting rebase fails naming the paths and leaves the worktree as it was', async () => {
    const { repo } = await clonedRepo();
    gitSync(repo.path, 'branch', 'conflicted');
    commitAll(writeAndReturn(repo.path, 'file.txt', 'main side\n'), 'main edits file');
    const session = (
      await client.createSession({ repoIds: [repo.id], branch: 'conflicted', base: '', title: '', labels: {}, requestId: '' })
    ).session!;
    const wt = session.worktrees[0]!.path;
    commitAll(writeAndReturn(wt, 'file.txt', 'branch side\n'), 'branch edits file');
    const headBefore = gitSync(wt, 'rev-parse', 'HEAD');
    const job = await submit(JobKind.JOB_KIND_REBASE_BRANCH, repo, { branch: 'conflicted', base: 'main' });
    const done = await until(job.id, JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED);
    expect(done.state).toBe(JobState.JOB_STATE_FAILED);
    expect(done.error).toMatch(/conflicts in: file\.txt/);
    expect(gitSync(wt, 'rev-parse', 'HEAD')).toBe(headBefore);
    expect(gitSync(wt, 'status', '--porcelain')).toBe('');
    expect(readFileSync(join(wt, 'file.txt'), 'utf8')).toBe('branch side\n');
  });

  it('restacks a three-branch stack in parent order', async () => {
    const { repo } = await clonedRepo();
    let parent = 'main';
    for (const branch of ['s1', 's2', 's3']) {
      gitSync(repo.path, 'checkout', '--quiet', '-b', branch, parent);
      commitAll(writeAndReturn(repo.path, `${branch}.txt`, branch), `${branch} work`);
      const reg = await submit(JobKind.JOB_KIND_REGISTER_BRANCH, repo, { branch, base: parent });
      await until(reg.id, JobState.JOB_STATE_SUCCEEDED);
      parent = branch;
    }
    gitSync(repo.path, 'checkout', '--quiet', 'main');
    commitAll(writeAndReturn(repo.path, 'base-moved.txt', 'x'), 'main moved');
    const job = await submit(JobKind.JOB_KIND_RESTACK_BRANCH, repo, { branch: 's1' });
    const done = await until(job.id, JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED);
    expect(done.error).toBe('');
    expect(done.result).toBe('restacked s1 -> s2 -> s3');
    for (const [child, base] of [
      ['s1', 'main'],
      ['s2', 's1'],
      ['s3', 's2'],
    ] as const) {
      expect(gitSync(repo.path, 'merge-base', child, base).trim()).toBe(gitSync(repo.path, 'rev-parse', base).trim());
    }
    expect(gitSync(repo.path, 'show', 's3:s1.txt')).toBe('s1');
  });

  it('refuses unknown kinds and bad params with INVALID_ARGUMENT, writing nothing', async () => {
    const { repo } = await clonedRepo();
    const { revision } = await client.getAgentInfo({});
    await expectStatus(submit(JobKind.JOB_KIND_UNSPECIFIED, repo), Status.INVALID_ARGUMENT, /unknown job kind/);
    await expectStatus(submit(99 as JobKind, repo), Status.INVALID_ARGUMENT, /unknown job kind/);
    await expectStatus(submit(JobKind.JOB_KIND_SYNC_REPO, undefined), Status.INVALID_ARGUMENT, /needs a repo/);
    await expectStatus(submit(JobKind.JOB_KIND_REBASE_BRANCH, repo), Status.INVALID_ARGUMENT, /needs a branch/);
    await expectStatus(submit(JobKind.JOB_KIND_REBASE_BRANCH, repo, { branch: 'bad..name' }), Status.INVALID_ARGUMENT, /branch/);
    await expectStatus(submit(JobKind.JOB_KIND_REPARENT_BRANCH, repo, { branch: 'x' }), Status.INVALID_ARGUMENT, /needs a base/);
    await expectStatus(client.getJob({ id: 'job_0000000000000000000000' }), Status.NOT_FOUND);
    expect((await client.getAgentInfo({})).revision).toBe(revision);
  });

  it('SIGKILL during an idempotent job: retried after restart, and the result survives another restart', async () => {
    const { repo, gate } = await clonedRepo();
    const job = await submit(JobKind.JOB_KIND_SYNC_REPO, repo);
    await until(job.id, JobState.JOB_STATE_RUNNING);
    channel.close();
    await agent.kill();
    writeFileSync(gate, '');
    await startAgent();
    const done = await until(job.id, JobState.JOB_STATE_SUCCEEDED);
    expect(done.attempts).toBe(2);
    channel.close();
    await agent.stop();
    await startAgent();
    expect((await client.getJob({ id: job.id })) as Job).toMatchObject({ state: JobState.JOB_STATE_SUCCEEDED, attempts: 2 });
  });

  it('SIGKILL mid-rebase of a non-idempotent job: FAILED after restart, the rebase aborted, the worktree as it was', async () => {
    const { repo } = await clonedRepo();
    gitSync(repo.path, 'branch', 'crashy');
    commitAll(writeAndReturn(repo.path, 'file.txt', 'main side\n'), 'main edits file');
    const session = (await client.createSession({ repoIds: [repo.id], branch: 'crashy', base: '', title: '', labels: {}, requestId: '' }))
      .session!;
    const wt = session.worktrees[0]!.path;
    commitAll(writeAndReturn(wt, 'file.txt', 'branch side\n'), 'branch edits file');
    const headBefore = gitSync(wt, 'rev-parse', 'HEAD');
    channel.close();
    await agent.stop();
    await startAgent({ GROVE_ENABLE_CRASH_POINTS: '1', GROVE_CRASH_AT: 'job.rebase_conflict' });
    const job = await submit(JobKind.JOB_KIND_REBASE_BRANCH, repo, { branch: 'crashy', base: 'main' });
    expect(await agent.exited).toBeNull(); // died at the crash point, rebase stopped on the conflict
    channel.close();
    await startAgent();
    const failed = await client.getJob({ id: job.id });
    expect(failed).toMatchObject({ state: JobState.JOB_STATE_FAILED, error: 'interrupted by agent restart' });
    expect(existsSync(join(gitSync(wt, 'rev-parse', '--path-format=absolute', '--git-path', 'rebase-merge').trim()))).toBe(false);
    expect(gitSync(wt, 'rev-parse', 'HEAD')).toBe(headBefore);
    expect(readFileSync(join(wt, 'file.txt'), 'utf8')).toBe('branch side\n');
  });

  it('creates a session on a remote-only branch without blocking: PENDING_BRANCH, then ACTIVE', async () => {
    const { repo, gate, origin } = await clonedRepo();
    gitSync(origin, 'checkout', '--quiet', '-b', 'remote-work');
    commitAll(writeAndReturn(origin, 'remote.txt', 'from the remote\n'), 'remote work');
    gitSync(origin, 'checkout', '--quiet', 'main');
    writeFileSync(gate, '');
    await until((await submit(JobKind.JOB_KIND_SYNC_REPO, repo)).id, JobState.JOB_STATE_SUCCEEDED);
    const { session } = await client.createSession({
      repoIds: [repo.id],
      branch: 'remote-work',
      base: '',
      title: '',
      labels: {},
      requestId: '',
    });
    expect(session!.state).toBe(SessionState.SESSION_STATE_PENDING_BRANCH);
    expect(session!.pendingJobId).toMatch(/^job_/);
    expect(session!.worktrees[0]!.state).toBe(WorktreeState.WORKTREE_STATE_REMOVED);
    const active = await waitFor(async () => {
      const s = await client.getSession({ id: session!.id });
      return s.state === SessionState.SESSION_STATE_ACTIVE ? s : undefined;
    }, 'the session to turn active');
    const wt = active.worktrees[0]!.path;
    expect(readFileSync(join(wt, 'remote.txt'), 'utf8')).toBe('from the remote\n');
    expect(gitSync(repo.path, 'rev-parse', '--abbrev-ref', 'remote-work@{upstream}').trim()).toBe('origin/remote-work');
  });

  it("shows the register job's error on a pending session, and kill stops it", async () => {
    const { repo, gate, origin } = await clonedRepo();
    gitSync(origin, 'branch', 'vanishing');
    writeFileSync(gate, '');
    await until((await submit(JobKind.JOB_KIND_SYNC_REPO, repo)).id, JobState.JOB_STATE_SUCCEEDED);
    gitSync(origin, 'branch', '-D', 'vanishing'); // gone upstream; the job's fetch --prune finds out
    const { session } = await client.createSession({
      repoIds: [repo.id],
      branch: 'vanishing',
      base: '',
      title: '',
      labels: {},
      requestId: '',
    });
    expect(session!.state).toBe(SessionState.SESSION_STATE_PENDING_BRANCH);
    const failed = await waitFor(async () => {
      const s = await client.getSession({ id: session!.id });
      return s.lastError ? s : undefined;
    }, 'the session to show the job error');
    expect(failed.lastError).toMatch(/branch registration failed: branch "vanishing" exists neither locally nor on a remote/);
    expect(failed.state).toBe(SessionState.SESSION_STATE_PENDING_BRANCH);
    const killed = await client.killSession({ id: session!.id });
    expect(killed.freed).toBe(true);
    expect(killed.session!.state).toBe(SessionState.SESSION_STATE_STOPPED);
  });
});

function writeAndReturn(dir: string, file: string, content: string): string {
  writeFiles(dir, { [file]: content });
  return dir;
}
