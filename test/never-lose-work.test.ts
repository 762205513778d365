import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import { WorktreeState, type Repo, type Session } from '../gen/grove/agent/v1/resources.js';
import { gitSync, makeRepo } from './helpers/git-repo.js';
import { agentClient, expectStatus } from './helpers/grpc.js';
import { startAgentProcess, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

/** sha256 of every file under `dir` (but .git), by relative path: "every byte" made checkable. */
function fileHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      if (entry.name === '.git') continue;
      const full = join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else out[relative(dir, full)] = createHash('sha256').update(readFileSync(full)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/**
 * The holes an adversarial round found in the never-lose-work promise: edits git status
 * does not show, ignored files, a crash in the middle of a removal, reads that write, and
 * repos whose directory is gone or inside the worktree root.
 */
describe('never lose work', () => {
  const tmp = tempDir();
  const root = join(tmp.path, 'worktrees');
  const dataDir = join(tmp.path, 'agent');
  // Slow background maintenance, so a test sees what a read alone does.
  const args = ['--worktree-root', root, '--maintenance', '1h'];
  let agent: ServiceProcess;
  let channel: Channel;
  let client: AgentServiceClient;
  let counter = 0;

  async function start(env: Record<string, string> = {}) {
    agent = await startAgentProcess({ dataDir, extraArgs: args, env });
    ({ client, channel } = agentClient(agent.address));
  }
  async function newRepo(files: Record<string, string> = { 'README.md': '# r\n', 'src/app.txt': 'v1\n' }, keepIgnored: string[] = []) {
    const name = `repo${++counter}`;
    const path = makeRepo(join(tmp.path, 'repos', name), { ...files, '.gitignore': '.env\nnode_modules/\n*.log\n' });
    return (await client.addRepo({ path, name, keepIgnored })).repo!;
  }
  async function create(repos: Repo[]): Promise<Session> {
    const { session } = await client.createSession({
      repoIds: repos.map((r) => r.id),
      branch: `b${++counter}`,
      base: '',
      title: '',
      labels: {},
      requestId: '',
    });
    return session!;
  }
  const worktreeOf = (session: Session, repo: Repo) => session.worktrees.find((w) => w.repoId === repo.id)!;

  beforeAll(() => start());
  afterAll(async () => {
    channel?.close();
    await agent?.stop();
    tmp.remove();
  });

  it.each([
    ['assume-unchanged', '--assume-unchanged'],
    ['skip-worktree', '--skip-worktree'],
  ])('an edit to a %s file: kill refuses, cleanup preserves it and apply brings it back', async (_flag, option) => {
    const repo = await newRepo();
    const session = await create([repo]);
    const wt = worktreeOf(session, repo).path;
    gitSync(wt, 'update-index', option, '--', 'src/app.txt');
    writeFileSync(join(wt, 'src/app.txt'), 'an edit git status does not show\n');
    expect(gitSync(wt, 'status', '--porcelain')).toBe(''); // invisible to git status

    const kill = await client.killSession({ id: session.id });
    expect(kill.freed).toBe(false);
    expect(kill.refusals).toEqual([expect.objectContaining({ reason: 'DIRTY_HIDDEN', message: expect.stringContaining('src/app.txt') })]);
    expect(readFileSync(join(wt, 'src/app.txt'), 'utf8')).toBe('an edit git status does not show\n');

    const cleaned = worktreeOf((await client.cleanupSession({ id: session.id })).session!, repo);
    expect(cleaned.state).toBe(WorktreeState.WORKTREE_STATE_UNAVAILABLE);
    expect(gitSync(repo.path, 'show', `${cleaned.preservedRef}:src/app.txt`)).toBe('an edit git status does not show\n');
    await client.restoreSessions({ ids: [session.id], all: false });
    await client.applyPreserved({ sessionId: session.id, repoId: repo.id });
    expect(readFileSync(join(wt, 'src/app.txt'), 'utf8')).toBe('an edit git status does not show\n');
  });

  it('a flagged file that is unchanged, or absent under skip-worktree, is not work', async () => {
    const repo = await newRepo();
    const session = await create([repo]);
    const wt = worktreeOf(session, repo).path;
    gitSync(wt, 'update-index', '--assume-unchanged', '--', 'README.md');
    gitSync(wt, 'update-index', '--skip-worktree', '--', 'src/app.txt');
    rmSync(join(wt, 'src/app.txt')); // what a sparse checkout looks like
    expect((await client.killSession({ id: session.id })).freed).toBe(true);
  });

  it('ignored files removed by kill and cleanup are reported on the worktree', async () => {
    const repo = await newRepo();
    const session = await create([repo]);
    const wt = worktreeOf(session, repo).path;
    writeFileSync(join(wt, '.env'), 'SECRET=1\n');
    mkdirSync(join(wt, 'node_modules/pkg'), { recursive: true });
    writeFileSync(join(wt, 'node_modules/pkg/index.js'), '');
    const kill = await client.killSession({ id: session.id });
    expect(kill.freed).toBe(true);
    const row = worktreeOf(kill.session!, repo);
    expect(row.removedIgnored).toEqual(['.env', 'node_modules/']);
    expect(row.removedIgnoredTotal).toBe(2);

    const second = await create([repo]);
    const wt2 = worktreeOf(second, repo).path;
    writeFileSync(join(wt2, 'build.log'), 'x');
    const cleaned = worktreeOf((await client.cleanupSession({ id: second.id })).session!, repo);
    expect(cleaned.state).toBe(WorktreeState.WORKTREE_STATE_REMOVED);
    expect(cleaned.removedIgnored).toEqual(['build.log']);
  });

  it('keep-ignored globs make ignored files work: kill refuses, cleanup preserves, apply restores them', async () => {
    const repo = await newRepo();
    const updated = await client.updateRepo({
      id: repo.name,
      settings: { keepIgnored: ['.env', 'config/*.local'] },
      updateMask: ['keep_ignored'],
    });
    expect(updated.repo!.keepIgnored).toEqual(['.env', 'config/*.local']);
    const session = await create([repo]);
    const wt = worktreeOf(session, repo).path;
    writeFileSync(join(wt, '.env'), 'TOKEN=only-copy\n');
    writeFileSync(join(wt, 'debug.log'), 'not kept\n');
    const kill = await client.killSession({ id: session.id });
    expect(kill.freed).toBe(false);
    expect(kill.refusals.map((r) => r.reason)).toEqual(['KEPT_IGNORED']);

    const cleaned = worktreeOf((await client.cleanupSession({ id: session.id })).session!, repo);
    expect(cleaned.state).toBe(WorktreeState.WORKTREE_STATE_UNAVAILABLE);
    expect(cleaned.removedIgnored).toEqual(['debug.log']);
    await client.restoreSessions({ ids: [session.id], all: false });
    await client.applyPreserved({ sessionId: session.id, repoId: repo.id });
    expect(readFileSync(join(wt, '.env'), 'utf8')).toBe('TOKEN=only-copy\n');
    expect(existsSync(join(wt, 'debug.log'))).toBe(false);
  });

  it('refuses bad keep-ignored globs and an empty update mask, changing nothing', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' }, ['.env']);
    await expectStatus(
      client.updateRepo({ id: repo.id, settings: { keepIgnored: ['../x'] }, updateMask: ['keep_ignored'] }),
      Status.INVALID_ARGUMENT,
      /inside the worktree/,
    );
    await expectStatus(
      client.updateRepo({ id: repo.id, settings: { keepIgnored: [':(top)x'] }, updateMask: ['keep_ignored'] }),
      Status.INVALID_ARGUMENT,
      /pathspec magic/,
    );
    await expectStatus(
      client.updateRepo({ id: repo.id, settings: { keepIgnored: [] }, updateMask: [] }),
      Status.INVALID_ARGUMENT,
      /update_mask/,
    );
    await expectStatus(
      client.updateRepo({ id: repo.id, settings: { keepIgnored: [] }, updateMask: ['name'] }),
      Status.INVALID_ARGUMENT,
      /no repo setting/,
    );
    expect((await client.getRepo({ id: repo.id })).keepIgnored).toEqual(['.env']);
  });

  it('a crash in the middle of a removal: recovery finishes it, and restore + apply bring back every byte', async () => {
    const repo = await newRepo({ 'README.md': '# r\n', 'src/app.txt': 'v1\n', 'src/lib/a.txt': 'a\n', 'z.txt': 'z\n' });
    const session = await create([repo]);
    const wt = worktreeOf(session, repo).path;
    writeFileSync(join(wt, 'src/app.txt'), 'edited\n');
    writeFileSync(join(wt, 'new-file.txt'), 'untracked work\n');
    gitSync(wt, 'add', '--', 'src/app.txt');
    writeFileSync(join(wt, 'z.txt'), 'edited after staging\n');
    const before = fileHashes(wt);

    channel.close();
    await agent.stop();
    await start({ GROVE_ENABLE_CRASH_POINTS: '1', GROVE_CRASH_AT: 'remove.midway' });
    await client.cleanupSession({ id: session.id }).catch(() => undefined); // the agent dies half-way
    await agent.exited;
    expect(existsSync(wt)).toBe(true); // part of the tree is left
    expect(fileHashes(wt)).not.toEqual(before);

    channel.close();
    await start();
    const row = worktreeOf(await client.getSession({ id: session.id }), repo);
    expect(row.state).toBe(WorktreeState.WORKTREE_STATE_UNAVAILABLE); // never ACTIVE over the remains
    expect(existsSync(wt)).toBe(false);
    await client.restoreSessions({ ids: [session.id], all: false });
    await client.applyPreserved({ sessionId: session.id, repoId: repo.id });
    expect(fileHashes(wt)).toEqual(before);
    expect(gitSync(wt, 'diff', '--cached', '--name-only').trim()).toBe('src/app.txt'); // the index too
  });

  it('a read never writes: GetSession on a worktree that lost its .git file changes neither disk nor database', async () => {
    const repo = await newRepo();
    const session = await create([repo]);
    const wt = worktreeOf(session, repo).path;
    rmSync(join(wt, '.git'));
    const { revision } = await client.getAgentInfo({});
    const seen = worktreeOf(await client.getSession({ id: session.id }), repo);
    expect(seen.drift).toBe('.git file is missing');
    expect(existsSync(join(wt, '.git'))).toBe(false);
    await client.listSessions({ pageSize: 10, pageToken: '', state: 0, repoId: '', labelSelector: '' });
    await client.listPreserved({ sessionId: session.id });
    await client.listOrphans({});
    expect((await client.getAgentInfo({})).revision).toBe(revision);
    expect(existsSync(join(wt, '.git'))).toBe(false);
  });

  it('a repo whose directory has gone: a clear FAILED_PRECONDITION naming the path', async () => {
    const repo = await newRepo();
    rmSync(repo.path, { recursive: true, force: true });
    const err = await expectStatus(
      client.createSession({ repoIds: [repo.id], branch: 'gone', base: '', title: '', labels: {}, requestId: '' }),
      Status.FAILED_PRECONDITION,
      new RegExp(`${repo.path.replace(/[/.]/g, '\\$&')} does not exist`),
    );
    expect(err.details).not.toMatch(/ENOENT|spawn/);
  });

  it('refuses to register a repo inside the worktree root', async () => {
    const inside = makeRepo(join(root, 'sneaky'));
    await expectStatus(
      client.addRepo({ path: inside, name: 'sneaky', keepIgnored: [] }),
      Status.INVALID_ARGUMENT,
      /inside the worktree root/,
    );
    expect((await client.listRepos({ pageSize: 100, pageToken: '' })).repos.map((r) => r.name)).not.toContain('sneaky');
    expect(statSync(inside).isDirectory()).toBe(true);
  });
});
