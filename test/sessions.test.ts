import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import { Orphan_Kind, SessionState, WorktreeState, type Repo, type Session } from '../gen/grove/agent/v1/resources.js';
import { gitSync, makeRepo, writeFiles } from './helpers/git-repo.js';
import { agentClient, expectStatus } from './helpers/grpc.js';
import { startAgentProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

// chattr +i makes a file immutable even for root: the one real way, on this machine, to make
// git fail at writing or removing a directory. Tests that need a failing git use it.
function immutable(path: string, on: boolean) {
  execFileSync('chattr', [on ? '+i' : '-i', path]);
}

describe('sessions and worktree lifecycle', () => {
  const tmp = tempDir();
  const root = join(tmp.path, 'worktrees');
  let agent: ServiceProcess;
  let channel: Channel;
  let client: AgentServiceClient;
  let counter = 0;

  async function newRepo(files: Record<string, string> = { 'README.md': '# r\n', 'src/app.txt': 'v1\n' }): Promise<Repo> {
    const name = `repo${++counter}`;
    const path = makeRepo(join(tmp.path, 'repos', name), files);
    return (await client.addRepo({ path, name })).repo!;
  }

  async function create(repos: Repo[], branch: string, extra: { base?: string } = {}): Promise<Session> {
    const { session } = await client.createSession({
      repoIds: repos.map((r) => r.id),
      branch,
      base: extra.base ?? '',
      title: `t-${branch}`,
      labels: { team: 'core' },
      requestId: '',
    });
    return session!;
  }

  const worktreeOf = (session: Session, repo: Repo) => session.worktrees.find((w) => w.repoId === repo.id)!;

  beforeAll(async () => {
    agent = await startAgentProcess({ dataDir: join(tmp.path, 'agent'), extraArgs: ['--worktree-root', root] });
    ({ client, channel } = agentClient(agent.address));
  });
  afterAll(async () => {
    channel?.close();
    await agent?.stop();
    tmp.remove();
  });

  it('creates a worktree on a new branch from the default branch, under root/<session>/<repo>', async () => {
    const repo = await newRepo();
    const session = await create([repo], 'feature/one');
    expect(session.state).toBe(SessionState.SESSION_STATE_ACTIVE);
    expect(session.labels).toEqual({ team: 'core' });
    const wt = worktreeOf(session, repo);
    expect(wt.path).toBe(join(root, session.id, repo.name));
    expect(wt.state).toBe(WorktreeState.WORKTREE_STATE_ACTIVE);
    expect(gitSync(wt.path, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('feature/one');
    expect(readFileSync(join(wt.path, 'src/app.txt'), 'utf8')).toBe('v1\n');
    expect((await client.getSession({ id: session.id })).id).toBe(session.id);
  });

  it('attaches an existing branch, and refuses a branch checked out elsewhere, naming it', async () => {
    const repo = await newRepo();
    gitSync(repo.path, 'branch', 'existing');
    const session = await create([repo], 'existing');
    expect(gitSync(worktreeOf(session, repo).path, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('existing');
    await expectStatus(
      create([repo], 'existing'),
      Status.FAILED_PRECONDITION,
      new RegExp(`checked out at ${worktreeOf(session, repo).path}`),
    );
    await expectStatus(create([repo], 'main'), Status.FAILED_PRECONDITION, /"main" .* already checked out/);
  });

  it('creates one worktree per repo, and rolls all back when one repo fails', async () => {
    const a = await newRepo();
    const b = await newRepo();
    const both = await create([a, b], 'multi');
    expect(both.worktrees.map((w) => w.repoName).sort()).toEqual([a.name, b.name].sort());

    // Make repo c's worktree admin directory unwritable: `git worktree add` fails there
    // after a's worktree was already made, and a's must be removed again.
    const c = await newRepo();
    const admin = join(c.path, '.git', 'worktrees');
    mkdirSync(admin, { recursive: true });
    const before = (await client.listSessions({ pageSize: 0, pageToken: '', state: 0, repoId: '', labelSelector: '' })).sessions.length;
    immutable(admin, true);
    try {
      await expectStatus(create([a, c], 'rollback-me'), Status.FAILED_PRECONDITION, /could not create the worktree/);
    } finally {
      immutable(admin, false);
    }
    expect(gitSync(a.path, 'worktree', 'list').includes('rollback-me')).toBe(false);
    expect(gitSync(a.path, 'branch', '--list', 'rollback-me').trim()).toBe('');
    const after = (await client.listSessions({ pageSize: 0, pageToken: '', state: 0, repoId: '', labelSelector: '' })).sessions.length;
    expect(after).toBe(before);
    expect(readdirSync(root).every((d) => existsSync(join(root, d)))).toBe(true);
  });

  it('refuses bad input with INVALID_ARGUMENT or NOT_FOUND and changes nothing', async () => {
    const repo = await newRepo();
    const { revision } = await client.getAgentInfo({});
    for (const branch of ['', '-x', 'a..b', 'a b', 'x.lock', 'a:b', '.hidden', 'end/', 'a@{1}']) {
      await expectStatus(create([repo], branch), Status.INVALID_ARGUMENT, /branch name/);
    }
    await expectStatus(create([repo], 'ok', { base: 'no-such-ref' }), Status.INVALID_ARGUMENT, /does not name a commit/);
    await expectStatus(create([repo], 'ok', { base: '--upload-pack=evil' }), Status.INVALID_ARGUMENT);
    await expectStatus(
      client.createSession({ repoIds: ['nope'], branch: 'ok', base: '', title: '', labels: {}, requestId: '' }),
      Status.NOT_FOUND,
    );
    await expectStatus(
      client.createSession({ repoIds: [], branch: 'ok', base: '', title: '', labels: {}, requestId: '' }),
      Status.INVALID_ARGUMENT,
    );
    await expectStatus(client.getSession({ id: '../../etc' }), Status.INVALID_ARGUMENT);
    await expectStatus(client.getSession({ id: 'ses_0000000000000000000000' }), Status.NOT_FOUND);
    await expectStatus(client.killSession({ id: 'ses_0000000000000000000000' }), Status.NOT_FOUND);
    await expectStatus(client.cleanupSession({ id: '' }), Status.INVALID_ARGUMENT);
    await expectStatus(client.restoreSessions({ ids: ['ses_0000000000000000000000'], all: false }), Status.NOT_FOUND);
    expect((await client.getAgentInfo({})).revision).toBe(revision);
  });

  it('is idempotent on request_id', async () => {
    const repo = await newRepo();
    const request = { repoIds: [repo.id], branch: 'idem', base: '', title: '', labels: {}, requestId: 'req-1' };
    const first = await client.createSession(request);
    const second = await client.createSession(request);
    expect(second.session!.id).toBe(first.session!.id);
  });

  it('kill refuses on every kind of dirtiness and on a live process, across repos, removing nothing', async () => {
    const a = await newRepo();
    const b = await newRepo();
    const session = await create([a, b], 'dirty-kill');
    const wa = worktreeOf(session, a).path;
    const wb = worktreeOf(session, b).path;

    const cases: Array<{ reason: string; make: () => void; undo: () => void }> = [
      {
        reason: 'DIRTY_TRACKED',
        make: () => writeFileSync(join(wb, 'src/app.txt'), 'changed\n'),
        undo: () => gitSync(wb, 'checkout', '--', 'src/app.txt'),
      },
      {
        reason: 'DIRTY_STAGED',
        make: () => {
          writeFileSync(join(wb, 'staged.txt'), 's\n');
          gitSync(wb, 'add', 'staged.txt');
        },
        undo: () => {
          gitSync(wb, 'rm', '--cached', '--quiet', 'staged.txt');
          rmSync(join(wb, 'staged.txt'));
        },
      },
      { reason: 'DIRTY_UNTRACKED', make: () => writeFileSync(join(wb, 'new.txt'), 'n\n'), undo: () => rmSync(join(wb, 'new.txt')) },
    ];
    for (const c of cases) {
      c.make();
      const result = await client.killSession({ id: session.id });
      expect(result.freed).toBe(false);
      expect(result.refusals.map((r) => `${r.repoName}:${r.reason}`)).toContain(`${b.name}:${c.reason}`);
      expect(existsSync(wa)).toBe(true); // the clean repo was not removed either
      expect(existsSync(wb)).toBe(true);
      c.undo();
    }

    const sleeper = spawn('sleep', ['60'], { cwd: join(wa, 'src'), stdio: 'ignore' });
    try {
      await waitFor(() => existsSync(`/proc/${sleeper.pid}/cwd`) || undefined, 'sleeper');
      const result = await client.killSession({ id: session.id });
      expect(result.freed).toBe(false);
      expect(result.refusals[0]).toMatchObject({ repoName: a.name, reason: 'PROCESS_INSIDE' });
      expect(result.refusals[0]!.message).toContain(`pid ${sleeper.pid}`);
      expect(existsSync(wa) && existsSync(wb)).toBe(true);
    } finally {
      sleeper.kill('SIGKILL');
    }
    await waitFor(() => sleeper.exitCode !== null || sleeper.signalCode !== null || undefined, 'sleeper exit');

    const killed = await client.killSession({ id: session.id });
    expect(killed.freed).toBe(true);
    expect(killed.session!.state).toBe(SessionState.SESSION_STATE_STOPPED);
    expect(killed.session!.worktrees.every((w) => w.state === WorktreeState.WORKTREE_STATE_REMOVED)).toBe(true);
    expect(existsSync(wa) || existsSync(wb)).toBe(false);
    expect(gitSync(a.path, 'branch', '--list', 'dirty-kill').trim()).toContain('dirty-kill'); // branches kept
  });

  it('cleanup preserves tracked, staged and untracked content byte for byte; restore + apply bring it back', async () => {
    const a = await newRepo();
    const b = await newRepo();
    const session = await create([a, b], 'preserve-me');
    const wa = worktreeOf(session, a).path;
    const binary = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0]);
    writeFileSync(join(wa, 'src/app.txt'), 'unstaged change\n');
    writeFiles(wa, { 'staged.txt': 'staged content\n' });
    gitSync(wa, 'add', 'staged.txt');
    writeFileSync(join(wa, 'staged.txt'), 'staged content\nplus unstaged edit\n');
    mkdirSync(join(wa, 'deep/er'), { recursive: true });
    writeFileSync(join(wa, 'deep/er/blob.bin'), binary);
    writeFileSync(join(wa, '.gitignore'), 'ignored.log\n');
    writeFileSync(join(wa, 'ignored.log'), 'ignored\n');
    rmSync(join(wa, 'README.md'));

    const cleaned = (await client.cleanupSession({ id: session.id })).session!;
    const rowA = worktreeOf(cleaned, a);
    const rowB = worktreeOf(cleaned, b);
    expect(rowA.state).toBe(WorktreeState.WORKTREE_STATE_UNAVAILABLE);
    expect(rowA.preservedRef).toBe(`refs/grove/preserved/${session.id}/${a.name}`);
    expect(rowB.state).toBe(WorktreeState.WORKTREE_STATE_REMOVED); // clean: nothing to preserve
    expect(cleaned.state).toBe(SessionState.SESSION_STATE_STOPPED);
    expect(existsSync(wa)).toBe(false);

    const ref = rowA.preservedRef;
    expect(gitSync(a.path, 'show', `${ref}:src/app.txt`)).toBe('unstaged change\n');
    expect(gitSync(a.path, 'show', `${ref}:staged.txt`)).toBe('staged content\nplus unstaged edit\n');
    expect(gitSync(a.path, 'show', `${ref}^2:staged.txt`)).toBe('staged content\n'); // the index
    expect(execFileSync('git', ['show', `${ref}:deep/er/blob.bin`], { cwd: a.path })).toEqual(binary);
    expect(gitSync(a.path, 'ls-tree', '-r', '--name-only', ref)).not.toContain('ignored.log');
    expect(gitSync(a.path, 'ls-tree', '-r', '--name-only', ref)).not.toContain('README.md');

    const listed = (await client.listPreserved({ sessionId: session.id })).preserved;
    expect(listed).toEqual([expect.objectContaining({ sessionId: session.id, repoId: a.id, ref })]);

    const restored = (await client.restoreSessions({ ids: [session.id], all: false })).sessions[0]!;
    expect(restored.state).toBe(SessionState.SESSION_STATE_ACTIVE);
    expect(restored.worktrees.every((w) => w.state === WorktreeState.WORKTREE_STATE_ACTIVE)).toBe(true);
    expect(readFileSync(join(wa, 'src/app.txt'), 'utf8')).toBe('v1\n'); // restored on the branch, clean

    await client.applyPreserved({ sessionId: session.id, repoId: a.name });
    expect(readFileSync(join(wa, 'src/app.txt'), 'utf8')).toBe('unstaged change\n');
    expect(readFileSync(join(wa, 'staged.txt'), 'utf8')).toBe('staged content\nplus unstaged edit\n');
    expect(readFileSync(join(wa, 'deep/er/blob.bin'))).toEqual(binary);
    expect(existsSync(join(wa, 'README.md'))).toBe(false);
    expect(gitSync(wa, 'show', ':staged.txt')).toBe('staged content\n'); // index as it was
    expect(gitSync(wa, 'diff', '--cached', '--name-only').trim()).toBe('staged.txt');

    const dropped = await client.dropPreserved({ sessionId: session.id, repoId: a.id });
    expect(worktreeOf(dropped.session!, a).preservedRef).toBe('');
    expect(gitSync(a.path, 'for-each-ref', 'refs/grove/').trim()).toBe('');
  });

  it('apply refuses on a dirty worktree and when nothing is preserved', async () => {
    const a = await newRepo();
    const session = await create([a], 'apply-guards');
    await expectStatus(client.applyPreserved({ sessionId: session.id, repoId: a.id }), Status.FAILED_PRECONDITION, /no preserved state/);
    writeFileSync(join(worktreeOf(session, a).path, 'x.txt'), 'x');
    await client.cleanupSession({ id: session.id });
    await expectStatus(
      client.applyPreserved({ sessionId: session.id, repoId: a.id }),
      Status.FAILED_PRECONDITION,
      /restore the session first/,
    );
    const restored = (await client.restoreSessions({ ids: [session.id], all: false })).sessions[0]!;
    writeFileSync(join(worktreeOf(restored, a).path, 'y.txt'), 'y');
    await expectStatus(client.applyPreserved({ sessionId: session.id, repoId: a.id }), Status.FAILED_PRECONDITION, /has changes/);
  });

  it('cleanup repairs a lost .git file and preserves the work before removing', async () => {
    const a = await newRepo();
    const session = await create([a], 'lost-dotgit');
    const wt = worktreeOf(session, a).path;
    writeFileSync(join(wt, 'work.txt'), 'work in a worktree that lost its .git file\n');
    rmSync(join(wt, '.git'));
    const row = worktreeOf((await client.cleanupSession({ id: session.id })).session!, a);
    expect(row.state).toBe(WorktreeState.WORKTREE_STATE_UNAVAILABLE);
    expect(gitSync(a.path, 'show', `${row.preservedRef}:work.txt`)).toBe('work in a worktree that lost its .git file\n');
  });

  it('never removes a worktree git cannot read: kill refuses, cleanup leaves it with a reason', async () => {
    const a = await newRepo();
    const session = await create([a], 'unreadable');
    const wt = worktreeOf(session, a).path;
    const adminDir = gitSync(wt, 'rev-parse', '--path-format=absolute', '--git-dir').trim();
    writeFileSync(join(wt, 'precious.txt'), 'only copy\n');
    rmSync(adminDir, { recursive: true, force: true }); // git's record of the worktree is gone
    const kill = await client.killSession({ id: session.id });
    expect(kill.freed).toBe(false);
    expect(kill.refusals.map((r) => r.reason)).toContain('STATE_UNREADABLE');
    const row = worktreeOf((await client.cleanupSession({ id: session.id })).session!, a);
    expect(row.state).toBe(WorktreeState.WORKTREE_STATE_ACTIVE);
    expect(row.lastError).toMatch(/not removed: git cannot read the worktree/);
    expect(readFileSync(join(wt, 'precious.txt'), 'utf8')).toBe('only copy\n');
  });

  it('a second cleanup after restore keeps both preserved states', async () => {
    const a = await newRepo();
    const session = await create([a], 'twice');
    const wt = worktreeOf(session, a).path;
    writeFileSync(join(wt, 'first.txt'), 'first\n');
    await client.cleanupSession({ id: session.id });
    await client.restoreSessions({ ids: [session.id], all: false });
    writeFileSync(join(wt, 'second.txt'), 'second, written before the first was applied\n');
    const row = worktreeOf((await client.cleanupSession({ id: session.id })).session!, a);
    expect(row.state).toBe(WorktreeState.WORKTREE_STATE_UNAVAILABLE);
    expect(gitSync(a.path, 'show', `${row.preservedRef}:second.txt`)).toBe('second, written before the first was applied\n');
    // The earlier preservation is chained as the third parent, not overwritten.
    expect(gitSync(a.path, 'show', `${row.preservedRef}^3:first.txt`)).toBe('first\n');
  });

  it('never removes nested repositories, and preserves commits on a detached HEAD', async () => {
    const a = await newRepo();
    const nested = await create([a], 'nested');
    const wt = worktreeOf(nested, a).path;
    makeRepo(join(wt, 'vendor', 'pkg'), { 'index.js': 'only here\n' });
    const kill = await client.killSession({ id: nested.id });
    expect(kill.refusals.map((r) => r.reason)).toContain('NESTED_REPOSITORY');
    const row = worktreeOf((await client.cleanupSession({ id: nested.id })).session!, a);
    expect(row.state).toBe(WorktreeState.WORKTREE_STATE_ACTIVE);
    expect(row.lastError).toMatch(/git repositories of its own \(vendor\/pkg\/\)/);
    expect(readFileSync(join(wt, 'vendor', 'pkg', 'index.js'), 'utf8')).toBe('only here\n');

    const detached = await create([a], 'detached');
    const dwt = worktreeOf(detached, a).path;
    gitSync(dwt, 'checkout', '--quiet', '--detach');
    writeFiles(dwt, { 'orphan.txt': 'on no branch\n' });
    gitSync(dwt, 'add', 'orphan.txt');
    gitSync(dwt, 'commit', '--quiet', '-m', 'detached work');
    const detachedKill = await client.killSession({ id: detached.id });
    expect(detachedKill.freed).toBe(false);
    expect(detachedKill.refusals.map((r) => r.reason)).toContain('UNREFERENCED_COMMITS');
    const cleaned = worktreeOf((await client.cleanupSession({ id: detached.id })).session!, a);
    expect(cleaned.state).toBe(WorktreeState.WORKTREE_STATE_UNAVAILABLE);
    expect(gitSync(a.path, 'show', `${cleaned.preservedRef}^1:orphan.txt`)).toBe('on no branch\n');
  });

  it('applying a preserved deletion never follows a symlink out of the worktree', async () => {
    const a = await newRepo({ 'config/settings.json': '{}\n', 'README.md': 'r\n' });
    const session = await create([a], 'symlinked');
    const wt = worktreeOf(session, a).path;
    const outside = join(tmp.path, 'home-config');
    mkdirSync(outside);
    writeFileSync(join(outside, 'settings.json'), "the user's own file\n");
    rmSync(join(wt, 'config'), { recursive: true });
    symlinkSync(outside, join(wt, 'config'));
    await client.cleanupSession({ id: session.id });
    await client.restoreSessions({ ids: [session.id], all: false });
    await client.applyPreserved({ sessionId: session.id, repoId: a.id });
    expect(readFileSync(join(outside, 'settings.json'), 'utf8')).toBe("the user's own file\n");
  });

  it('restore moves a stray path aside and reports it', async () => {
    const a = await newRepo();
    const session = await create([a], 'stray');
    const wt = worktreeOf(session, a).path;
    expect((await client.killSession({ id: session.id })).freed).toBe(true);
    mkdirSync(wt, { recursive: true });
    writeFileSync(join(wt, 'precious.txt'), 'keep me');
    const { sessions, moved } = await client.restoreSessions({ ids: [], all: true });
    expect(sessions.map((s) => s.id)).toContain(session.id);
    expect(moved).toHaveLength(1);
    expect(moved[0]!.from).toBe(wt);
    expect(readFileSync(join(moved[0]!.to, 'precious.txt'), 'utf8')).toBe('keep me');
    expect(gitSync(wt, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('stray');
  });

  it('a failed removal becomes RETRY_REMOVE and is retried until it succeeds', async () => {
    const a = await newRepo();
    const session = await create([a], 'retry');
    const wt = worktreeOf(session, a).path;
    writeFileSync(join(wt, 'work.txt'), 'precious work\n');
    const stuck = join(wt, 'src/app.txt');
    immutable(stuck, true);
    let cleaned: Session;
    try {
      cleaned = (await client.cleanupSession({ id: session.id })).session!;
      const row = worktreeOf(cleaned, a);
      expect(row.state).toBe(WorktreeState.WORKTREE_STATE_RETRY_REMOVE);
      expect(row.lastError).toMatch(/removal failed/);
      expect(row.preservedRef).not.toBe('');
      // The work is safe in the ref before anything was removed.
      expect(gitSync(a.path, 'show', `${row.preservedRef}:work.txt`)).toBe('precious work\n');
    } finally {
      immutable(stuck, false);
    }
    const done = await waitFor(async () => {
      const s = await client.getSession({ id: session.id });
      return worktreeOf(s, a).state === WorktreeState.WORKTREE_STATE_UNAVAILABLE ? s : undefined;
    }, 'the removal retry');
    expect(worktreeOf(done, a).lastError).toBe('');
    expect(existsSync(wt)).toBe(false);
  });

  it('RemoveRepo refuses while a session holds a worktree of it', async () => {
    const a = await newRepo();
    const session = await create([a], 'holds');
    await expectStatus(client.removeRepo({ id: a.id }), Status.FAILED_PRECONDITION, /used by 1 session/);
    await client.killSession({ id: session.id });
    await client.removeRepo({ id: a.id });
    // The stopped session survives its repo: listing and restore skip the row, no error.
    const restored = await client.restoreSessions({ ids: [session.id], all: false });
    expect(worktreeOf(restored.sessions[0]!, a).state).toBe(WorktreeState.WORKTREE_STATE_REMOVED);
  });

  it('reports orphans and prunes only stale git entries', async () => {
    const a = await newRepo();
    const session = await create([a], 'orphans');
    const stray = join(root, 'not-a-session');
    mkdirSync(stray);
    const wt = worktreeOf(session, a).path;
    rmSync(wt, { recursive: true, force: true }); // deleted behind grove's back
    const orphans = (await client.listOrphans({})).orphans;
    expect(orphans).toContainEqual(expect.objectContaining({ kind: Orphan_Kind.KIND_DIRECTORY, path: stray }));
    expect(orphans).toContainEqual(expect.objectContaining({ kind: Orphan_Kind.KIND_STALE_WORKTREE, path: wt, repoId: a.id }));
    const pruned = (await client.pruneOrphans({})).pruned;
    expect(pruned.map((o) => o.path)).toEqual([wt]);
    expect(existsSync(stray)).toBe(true); // never deleted
    expect(gitSync(a.path, 'worktree', 'list', '--porcelain')).not.toContain(wt);
  });

  it('detects drift: a switched branch is shown with its cause, a lost .git file is repaired in the background', async () => {
    const a = await newRepo();
    const session = await create([a], 'drifty');
    const wt = worktreeOf(session, a).path;
    gitSync(wt, 'checkout', '--quiet', '-b', 'elsewhere');
    let row = worktreeOf(await client.getSession({ id: session.id }), a);
    expect(row.drift).toBe('branch switched to "elsewhere" (expected "drifty")');
    gitSync(wt, 'checkout', '--quiet', 'drifty');
    row = worktreeOf(await client.getSession({ id: session.id }), a);
    expect(row.drift).toBe('');

    rmSync(join(wt, '.git'));
    // The read reports what it sees and changes nothing; background maintenance repairs.
    await waitFor(
      async () => worktreeOf(await client.getSession({ id: session.id }), a).drift === '' || undefined,
      'the .git file to be repaired',
    );
    expect(gitSync(wt, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('drifty');
  });

  it('emits an event for every change, carrying the session', async () => {
    const a = await newRepo();
    const { revision } = await client.getAgentInfo({});
    const session = await create([a], 'evented');
    await client.killSession({ id: session.id });
    const types: string[] = [];
    for await (const event of client.watchEvents({ afterRevision: revision })) {
      if (event.payload?.$case === 'session' && event.payload.value.id === session.id) {
        types.push(`${event.type}:${SessionState[event.payload.value.state]}`);
      }
      if (types.length === 2) break;
    }
    expect(types).toEqual(['session.created:SESSION_STATE_ACTIVE', 'session.updated:SESSION_STATE_STOPPED']);
  });
});
