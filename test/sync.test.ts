import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import { SyncState, type Repo, type Session, type Sync } from '../gen/grove/agent/v1/resources.js';
import { commitAll, gitSync, makeRepo, writeFiles } from './helpers/git-repo.js';
import { agentClient, expectStatus } from './helpers/grpc.js';
import { startAgentProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

const BINARY = Buffer.from([0, 255, 1, 254, 10, 0, 13]);

describe('local sync', () => {
  const tmp = tempDir();
  const dataDir = join(tmp.path, 'agent');
  // A long probe interval: these tests drive sync with FlushSync, deterministically.
  const args = ['--worktree-root', join(tmp.path, 'wt'), '--sync-probe', '1h'];
  let agent: ServiceProcess;
  let channel: Channel;
  let client: AgentServiceClient;
  let n = 0;

  async function startAgent(env: Record<string, string> = {}) {
    agent = await startAgentProcess({ dataDir, extraArgs: args, env });
    ({ client, channel } = agentClient(agent.address));
  }

  /** A user's checkout (the registered repo) and a session on branch `feat` of it. */
  async function setup(): Promise<{ repo: Repo; session: Session; checkout: string; wt: string }> {
    const checkout = makeRepo(join(tmp.path, `user${++n}`), { 'file.txt': 'one\ntwo\nthree\n', 'other.txt': 'other\n' });
    const repo = (await client.addRepo({ path: checkout, name: `user${n}` })).repo!;
    const session = (await client.createSession({ repoIds: [repo.id], branch: 'feat', base: '', title: '', labels: {}, requestId: '' }))
      .session!;
    return { repo, session, checkout, wt: session.worktrees[0]!.path };
  }
  const flush = async (repo: Repo): Promise<Sync> => (await client.flushSync({ repoId: repo.id })).sync!;
  const head = (dir: string, rev = 'HEAD') => gitSync(dir, 'rev-parse', rev).trim();
  const branch = (dir: string) => gitSync(dir, 'rev-parse', '--abbrev-ref', 'HEAD').trim();

  beforeAll(() => startAgent());
  afterAll(async () => {
    channel?.close();
    await agent?.stop();
    tmp.remove();
  });

  it('starts on a dirty tree by stashing tracked, staged and untracked content byte for byte', async () => {
    const { repo, session, checkout } = await setup();
    writeFileSync(join(checkout, 'file.txt'), 'one\nTWO (unstaged)\nthree\n');
    writeFiles(checkout, { 'staged.txt': 'staged\n' });
    gitSync(checkout, 'add', 'staged.txt');
    mkdirSync(join(checkout, 'new/dir'), { recursive: true });
    writeFileSync(join(checkout, 'new/dir/blob.bin'), BINARY);
    const sync = (await client.startSync({ sessionId: session.id, repoId: '' })).sync!;
    expect(sync.state).toBe(SyncState.SYNC_STATE_SYNCING);
    expect(sync.originalBranch).toBe('main');
    expect(branch(checkout)).toBe(`grove/sync/${session.id}`);
    expect(gitSync(checkout, 'status', '--porcelain')).toBe('');

    const [stash] = (await client.listStashes({ repoId: repo.id })).stashes;
    expect(stash!.id).toBe(sync.stashId);
    expect(stash!.ref).toBe(`refs/grove/stash/${stash!.id}`);
    expect(gitSync(checkout, 'show', `${stash!.ref}:file.txt`)).toBe('one\nTWO (unstaged)\nthree\n');
    expect(gitSync(checkout, 'show', `${stash!.ref}^2:staged.txt`)).toBe('staged\n');
    expect(execFileSync('git', ['show', `${stash!.ref}:new/dir/blob.bin`], { cwd: checkout })).toEqual(BINARY);

    // A second start from a dirty tree is refused, naming the stash.
    await client.stopSync({ repoId: repo.id, restoreStash: false });
    writeFileSync(join(checkout, 'dirty-again.txt'), 'x');
    await expectStatus(
      client.startSync({ sessionId: session.id, repoId: '' }),
      Status.FAILED_PRECONDITION,
      new RegExp(`grove stash ${stash!.id}`),
    );
    gitSync(checkout, 'clean', '-fdq');
    // A clean start is not blocked by the stash.
    expect((await client.startSync({ sessionId: session.id, repoId: '' })).sync!.state).toBe(SyncState.SYNC_STATE_SYNCING);
    await client.stopSync({ repoId: repo.id, restoreStash: false });
  });

  it('brings agent commits in and user commits back, by fast-forward', async () => {
    const { repo, session, checkout, wt } = await setup();
    await client.startSync({ sessionId: session.id, repoId: repo.id });
    writeFiles(wt, { 'agent.txt': 'from the agent\n' });
    const agentCommit = commitAll(wt, 'agent work');
    expect((await flush(repo)).state).toBe(SyncState.SYNC_STATE_SYNCING);
    expect(head(checkout)).toBe(agentCommit);
    expect(readFileSync(join(checkout, 'agent.txt'), 'utf8')).toBe('from the agent\n');

    writeFiles(checkout, { 'user.txt': 'from the user\n' });
    const userCommit = commitAll(checkout, 'user work');
    await flush(repo);
    expect(head(wt)).toBe(userCommit);
    expect(readFileSync(join(wt, 'user.txt'), 'utf8')).toBe('from the user\n');

    // A task's commit arrives without a flush: sync runs after every task ends.
    const task = (
      await client.startTask({
        sessionId: session.id,
        argv: ['sh', '-c', 'echo task > task.txt && git add task.txt && git commit -qm task'],
        prompt: '',
        env: {},
        repoId: '',
        requestId: '',
      })
    ).task!;
    await waitFor(() => (existsSync(join(checkout, 'task.txt')) ? true : undefined), 'the task commit to reach the checkout');
    expect((await client.getTask({ id: task.id })).state).toBe(3);
  });

  it('pauses with a cause for every kind of obstacle and resumes when it clears', async () => {
    const { repo, session, checkout, wt } = await setup();
    await client.startSync({ sessionId: session.id, repoId: repo.id });
    const syncBranch = `grove/sync/${session.id}`;
    const expectPaused = async (cause: RegExp) => {
      const sync = await flush(repo);
      expect(sync.state).toBe(SyncState.SYNC_STATE_PAUSED);
      expect(sync.causes.join('\n')).toMatch(cause);
    };
    const expectResumed = async () => expect((await flush(repo)).state).toBe(SyncState.SYNC_STATE_SYNCING);

    // Mid-rebase (an interactive rebase stopped at a `break`).
    writeFiles(checkout, { 'r.txt': 'r\n' });
    commitAll(checkout, 'user commit');
    await expectResumed();
    gitSync(checkout, '-c', 'sequence.editor=sed -i 1ibreak', 'rebase', '-i', '--quiet', 'HEAD~1');
    await expectPaused(/a rebase is in progress .*git rebase --abort/);
    gitSync(checkout, 'rebase', '--abort');
    await expectResumed();

    // Mid-merge.
    gitSync(checkout, 'branch', 'side', 'main');
    execFileSync('git', ['checkout', '--quiet', 'side'], { cwd: checkout });
    writeFiles(checkout, { 'side.txt': 'side\n' });
    const sideCommit = commitAll(checkout, 'side work');
    execFileSync('git', ['checkout', '--quiet', syncBranch], { cwd: checkout });
    gitSync(checkout, 'merge', '--no-commit', '--no-ff', 'side');
    await expectPaused(/a merge is in progress/);
    gitSync(checkout, 'merge', '--abort');
    await expectResumed();

    // Mid-cherry-pick (conflicting) and mid-revert (conflicting).
    execFileSync('git', ['checkout', '--quiet', 'side'], { cwd: checkout });
    writeFiles(checkout, { 'file.txt': 'one\nSIDE\nthree\n' });
    const conflicting = commitAll(checkout, 'side edits file');
    execFileSync('git', ['checkout', '--quiet', syncBranch], { cwd: checkout });
    writeFiles(checkout, { 'file.txt': 'one\nSYNC\nthree\n' });
    const mine = commitAll(checkout, 'sync edits file');
    await expectResumed();
    expect(() => gitSync(checkout, 'cherry-pick', conflicting)).toThrow();
    await expectPaused(/a cherry-pick is in progress/);
    gitSync(checkout, 'cherry-pick', '--abort');
    await expectResumed();
    writeFiles(checkout, { 'file.txt': 'one\nLATER\nthree\n' });
    commitAll(checkout, 'later edit');
    await expectResumed();
    expect(() => gitSync(checkout, 'revert', '--no-edit', mine)).toThrow();
    await expectPaused(/a revert is in progress/);
    gitSync(checkout, 'revert', '--abort');
    await expectResumed();

    // Bisecting.
    gitSync(checkout, 'bisect', 'start');
    await expectPaused(/a bisect is in progress/);
    gitSync(checkout, 'bisect', 'reset');
    await expectResumed();

    // Detached HEAD, then another branch.
    gitSync(checkout, 'checkout', '--quiet', '--detach');
    await expectPaused(/HEAD is detached/);
    gitSync(checkout, 'checkout', '--quiet', 'side');
    await expectPaused(new RegExp(`is on branch side, not ${syncBranch}`));
    gitSync(checkout, 'checkout', '--quiet', syncBranch);
    await expectResumed();
    expect(sideCommit).not.toBe('');

    // Diverged histories.
    writeFiles(wt, { 'agent-only.txt': 'a\n' });
    commitAll(wt, 'agent diverges');
    writeFiles(checkout, { 'user-only.txt': 'u\n' });
    commitAll(checkout, 'user diverges');
    await expectPaused(/have diverged/);
    gitSync(checkout, 'merge', '--quiet', '--no-edit', 'feat');
    await expectResumed();
    expect(head(wt)).toBe(head(checkout));

    // A dirty tree that the fast-forward would overwrite.
    writeFiles(wt, { 'other.txt': 'agent changes other\n' });
    commitAll(wt, 'agent edits other');
    writeFileSync(join(checkout, 'other.txt'), 'user edits other, uncommitted\n');
    await expectPaused(/would be overwritten by the session's commits/);
    expect(readFileSync(join(checkout, 'other.txt'), 'utf8')).toBe('user edits other, uncommitted\n');
    gitSync(checkout, 'checkout', '--', 'other.txt');
    await expectResumed();
    expect(readFileSync(join(checkout, 'other.txt'), 'utf8')).toBe('agent changes other\n');
  });

  it('stops from SYNCING and from PAUSED without touching the user tree', async () => {
    const a = await setup();
    await client.startSync({ sessionId: a.session.id, repoId: a.repo.id });
    const stopped = await client.stopSync({ repoId: a.repo.id, restoreStash: false });
    expect(stopped.sync!.state).toBe(SyncState.SYNC_STATE_OFF);
    expect(branch(a.checkout)).toBe('main');
    expect(gitSync(a.checkout, 'branch', '--list', 'grove/sync/*').trim()).toBe(''); // nothing unique on it

    const b = await setup();
    await client.startSync({ sessionId: b.session.id, repoId: b.repo.id });
    writeFiles(b.checkout, { 'r.txt': 'r\n' });
    commitAll(b.checkout, 'user commit');
    gitSync(b.checkout, '-c', 'sequence.editor=sed -i 1ibreak', 'rebase', '-i', '--quiet', 'HEAD~1');
    writeFileSync(join(b.checkout, 'wip.txt'), 'work in progress\n');
    expect((await flush(b.repo)).state).toBe(SyncState.SYNC_STATE_PAUSED);
    const headBefore = head(b.checkout);
    const result = await client.stopSync({ repoId: b.repo.id, restoreStash: true });
    expect(result.sync!.state).toBe(SyncState.SYNC_STATE_OFF);
    expect(result.stashMessage).toMatch(/left .* as it is/);
    expect(head(b.checkout)).toBe(headBefore);
    expect(readFileSync(join(b.checkout, 'wip.txt'), 'utf8')).toBe('work in progress\n');
    expect(existsSync(gitSync(b.checkout, 'rev-parse', '--path-format=absolute', '--git-path', 'rebase-merge').trim())).toBe(true);
  });

  it('restores the stash on stop only when it applies cleanly, else leaves it and says so', async () => {
    const { repo, session, checkout } = await setup();
    writeFileSync(join(checkout, 'file.txt'), 'changed before sync\n');
    writeFileSync(join(checkout, 'untracked.txt'), 'untracked before sync\n');
    await client.startSync({ sessionId: session.id, repoId: repo.id });
    const stop = await client.stopSync({ repoId: repo.id, restoreStash: true });
    expect(stop.stashMessage).toMatch(/applied and dropped/);
    expect(branch(checkout)).toBe('main');
    expect(readFileSync(join(checkout, 'file.txt'), 'utf8')).toBe('changed before sync\n');
    expect(readFileSync(join(checkout, 'untracked.txt'), 'utf8')).toBe('untracked before sync\n');
    expect((await client.listStashes({ repoId: repo.id })).stashes).toEqual([]);

    const again = await setup();
    writeFileSync(join(again.checkout, 'file.txt'), 'stashed\n');
    await client.startSync({ sessionId: again.session.id, repoId: again.repo.id });
    writeFileSync(join(again.checkout, 'blocker.txt'), 'the tree is not clean now\n');
    const left = await client.stopSync({ repoId: again.repo.id, restoreStash: true });
    expect(left.stashMessage).toMatch(/stash sta_\w+ left alone: .* is not clean/);
    expect((await client.listStashes({ repoId: again.repo.id })).stashes).toHaveLength(1);
  });

  it('detects a stash whose ref was removed by hand and still recovers its untracked files', async () => {
    const { repo, session, checkout } = await setup();
    writeFileSync(join(checkout, 'precious-untracked.bin'), BINARY);
    const sync = (await client.startSync({ sessionId: session.id, repoId: repo.id })).sync!;
    await client.stopSync({ repoId: repo.id, restoreStash: false });
    const [stash] = (await client.listStashes({ repoId: repo.id })).stashes;
    gitSync(checkout, 'update-ref', '-d', stash!.ref); // popped / deleted by hand
    const listed = (await client.listStashes({ repoId: repo.id })).stashes[0]!;
    expect(listed).toMatchObject({ id: sync.stashId, refMissing: true });
    expect(existsSync(join(checkout, 'precious-untracked.bin'))).toBe(false);
    await client.applyStash({ id: listed.id });
    expect(readFileSync(join(checkout, 'precious-untracked.bin'))).toEqual(BINARY);
    await client.dropStash({ id: listed.id });
    expect((await client.listStashes({ repoId: repo.id })).stashes).toEqual([]);
  });

  it('SIGKILL during start loses nothing; after restart sync is re-validated and can stop', async () => {
    const { repo, session, checkout } = await setup();
    writeFileSync(join(checkout, 'file.txt'), 'uncommitted edit\n');
    writeFileSync(join(checkout, 'untracked.txt'), 'untracked\n');
    channel.close();
    await agent.stop();
    await startAgent({ GROVE_ENABLE_CRASH_POINTS: '1', GROVE_CRASH_AT: 'sync.after_stash' });
    await expect(client.startSync({ sessionId: session.id, repoId: repo.id })).rejects.toThrow();
    expect(await agent.exited).toBeNull();
    channel.close();
    await startAgent();
    // The tree was not touched yet, and the stash holds the same content.
    expect(readFileSync(join(checkout, 'file.txt'), 'utf8')).toBe('uncommitted edit\n');
    const [stash] = (await client.listStashes({ repoId: repo.id })).stashes;
    expect(gitSync(checkout, 'show', `${stash!.ref}:untracked.txt`)).toBe('untracked\n');
    const [sync] = (await client.listSyncs({})).syncs.filter((s) => s.repoId === repo.id);
    expect(sync!.state).toBe(SyncState.SYNC_STATE_PAUSED);
    expect(sync!.causes.join('\n')).toMatch(/is on branch main, not grove\/sync/);
    const stop = await client.stopSync({ repoId: repo.id, restoreStash: false });
    expect(stop.sync!.state).toBe(SyncState.SYNC_STATE_OFF);
    expect(readFileSync(join(checkout, 'file.txt'), 'utf8')).toBe('uncommitted edit\n');
  });
});

describe('local sync without flushes', () => {
  const tmp = tempDir();
  let agent: ServiceProcess;
  let channel: Channel;
  let client: AgentServiceClient;

  beforeAll(async () => {
    agent = await startAgentProcess({
      dataDir: join(tmp.path, 'agent'),
      extraArgs: ['--worktree-root', join(tmp.path, 'wt'), '--sync-probe', '100ms'],
    });
    ({ client, channel } = agentClient(agent.address));
  });
  afterAll(async () => {
    channel?.close();
    await agent?.stop();
    tmp.remove();
  });

  it('pauses and resumes by itself on the periodic probe, and brings commits over', async () => {
    const checkout = makeRepo(join(tmp.path, 'user'), { 'file.txt': 'x\n' });
    const repo = (await client.addRepo({ path: checkout, name: 'user' })).repo!;
    const session = (await client.createSession({ repoIds: [repo.id], branch: 'feat', base: '', title: '', labels: {}, requestId: '' }))
      .session!;
    await client.startSync({ sessionId: session.id, repoId: repo.id });
    const state = async () => (await client.listSyncs({})).syncs.find((s) => s.repoId === repo.id)!;
    gitSync(checkout, 'checkout', '--quiet', '--detach');
    const paused = await waitFor(
      async () => ((await state()).state === SyncState.SYNC_STATE_PAUSED ? state() : undefined),
      'a pause without a flush',
    );
    expect(paused.causes.join('\n')).toMatch(/HEAD is detached/);
    gitSync(checkout, 'checkout', '--quiet', `grove/sync/${session.id}`);
    await waitFor(async () => ((await state()).state === SyncState.SYNC_STATE_SYNCING ? true : undefined), 'the resume without a flush');
    const wt = session.worktrees[0]!.path;
    writeFiles(wt, { 'agent.txt': 'a\n' });
    const commit = commitAll(wt, 'agent work');
    await waitFor(
      () => (gitSync(checkout, 'rev-parse', 'HEAD').trim() === commit ? true : undefined),
      'the commit to arrive without a flush',
    );
  });
});
