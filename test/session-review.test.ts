import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Status } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import { TaskState, type Repo, type Session } from '../gen/grove/agent/v1/resources.js';
import { AgentStatus } from '../gen/grove/coordinator/v1/coordinator_service.js';
import { grove, json } from './helpers/cli.js';
import { waitForFile } from './helpers/fixtures.js';
import { commitAll, makeRepo, writeFiles } from './helpers/git-repo.js';
import { agentClient, coordinatorClient, expectStatus } from './helpers/grpc.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

interface FileJson {
  path: string;
  oldPath?: string;
  status: string;
  additions?: number;
  deletions?: number;
  binary?: boolean;
  uncommitted?: boolean;
}
interface RepoDiffJson {
  repoName: string;
  mergeBase: string;
  commits?: Array<{ sha: string; subject: string }>;
  files?: FileJson[];
  patch?: string;
  patchOmitted?: boolean;
  patchBytes?: number;
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' });
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * What `git diff --numstat` says the worktree changed since `mergeBase`, untracked files
 * included: computed on a throwaway index of its own (a different road from the agent's).
 */
function expectedNumstat(cwd: string, mergeBase: string): Map<string, { additions: number; deletions: number; binary: boolean }> {
  const scratch = mkdtempSync(join(tmpdir(), 'grove-numstat-'));
  try {
    const env = { ...process.env, GIT_INDEX_FILE: join(scratch, 'index') };
    execFileSync('git', ['read-tree', 'HEAD'], { cwd, env });
    execFileSync('git', ['add', '--all'], { cwd, env });
    const text = execFileSync('git', ['diff', '--cached', '--numstat', '--no-renames', mergeBase], { cwd, env, encoding: 'utf8' });
    const stats = new Map<string, { additions: number; deletions: number; binary: boolean }>();
    for (const line of text.trim().split('\n').filter(Boolean)) {
      const [added, deleted, path] = line.split('\t') as [string, string, string];
      stats.set(
        path,
        added === '-' ? { additions: 0, deletions: 0, binary: true } : { additions: +added, deletions: +deleted, binary: false },
      );
    }
    return stats;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

describe('session diff and commit', () => {
  const tmp = tempDir();
  let coordinator: ServiceProcess;
  let agent: ServiceProcess;
  let client: AgentServiceClient;
  let repoA: Repo;
  let repoB: Repo;
  let branches = 0;

  beforeAll(async () => {
    coordinator = await startCoordinatorProcess({ dataDir: join(tmp.path, 'coordinator') });
    agent = await startAgentProcess({ dataDir: join(tmp.path, 'agent'), extraArgs: ['--coordinator', coordinator.address] });
    ({ client } = agentClient(agent.address));
    const files = { 'README.md': '# app\n', 'src/main.txt': 'one\ntwo\nthree\n', 'old.txt': 'goes away\n', 'moved.txt': 'a\nb\nc\nd\ne\n' };
    repoA = (await client.addRepo({ path: makeRepo(join(tmp.path, 'app'), files), name: 'app' })).repo!;
    repoB = (await client.addRepo({ path: makeRepo(join(tmp.path, 'lib'), { 'lib.txt': 'lib\n' }), name: 'lib' })).repo!;
    const { client: coord } = coordinatorClient(coordinator.address);
    await waitFor(
      async () => (await coord.listAgents({})).agents.find((a) => a.status === AgentStatus.AGENT_STATUS_CONNECTED),
      'the agent to link',
    );
  });
  afterAll(async () => {
    await agent?.stop();
    await coordinator?.stop();
    tmp.remove();
  });

  async function newSession(): Promise<Session> {
    const request = { repoIds: [repoA.id, repoB.id], branch: `review-${++branches}`, base: '', title: '', labels: {}, requestId: '' };
    const { session } = await client.createSession(request);
    const { client: coord } = coordinatorClient(coordinator.address);
    await waitFor(
      async () => (await coord.getSession({ id: session!.id }).catch(() => undefined)) && true,
      'the coordinator to know the session',
    );
    return session!;
  }
  const worktree = (session: Session, repo: string) => session.worktrees.find((w) => w.repoName === repo)!.path;

  /** A commit, then every kind of uncommitted change: modified, staged, deleted, renamed, untracked, binary. */
  function dirty(session: Session): string {
    const app = worktree(session, 'app');
    writeFiles(app, { 'src/main.txt': 'one\n2\nthree\nfour\n' });
    commitAll(app, 'agent: edit main');
    writeFiles(app, { 'README.md': '# app\nmore\n', 'staged.txt': 'staged\n', 'notes/new.txt': 'untracked\nlines\n' });
    git(app, 'add', 'staged.txt');
    unlinkSync(join(app, 'old.txt'));
    git(app, 'mv', 'moved.txt', 'renamed.txt');
    writeFileSync(join(app, 'image.bin'), Buffer.from([0, 1, 2, 3, 0, 255, 0, 7]));
    return app;
  }

  it('shows committed, uncommitted and untracked changes per repo; --json stats match git diff --numstat, directly and through the coordinator', async () => {
    const session = await newSession();
    const app = dirty(session);
    const indexBefore = sha(join(tmp.path, 'app', '.git', 'worktrees', 'app', 'index'));
    const statusBefore = git(app, 'status', '--porcelain');

    const direct = json<{ repos: RepoDiffJson[] }>(await grove(['session', 'diff', session.id, '--json', '--agent', agent.address]));
    const routed = json<{ repos: RepoDiffJson[] }>(
      await grove(['session', 'diff', session.id, '--json', '--coordinator', coordinator.address]),
    );
    expect(routed).toEqual(direct);
    // A read: neither the worktree nor its index changed.
    expect(git(app, 'status', '--porcelain')).toBe(statusBefore);
    expect(sha(join(tmp.path, 'app', '.git', 'worktrees', 'app', 'index'))).toBe(indexBefore);

    const [appDiff, libDiff] = [direct.repos.find((r) => r.repoName === 'app')!, direct.repos.find((r) => r.repoName === 'lib')!];
    expect(libDiff.files ?? []).toEqual([]);
    expect(appDiff.commits?.map((c) => c.subject)).toEqual(['agent: edit main']);
    expect(appDiff.mergeBase).toBe(git(join(tmp.path, 'app'), 'rev-parse', 'main').trim());
    const byPath = new Map((appDiff.files ?? []).map((f) => [f.path, f]));
    expect(byPath.get('src/main.txt')).toMatchObject({ status: 'FILE_CHANGE_STATUS_MODIFIED' });
    expect(byPath.get('src/main.txt')?.uncommitted ?? false).toBe(false);
    expect(byPath.get('README.md')).toMatchObject({ status: 'FILE_CHANGE_STATUS_MODIFIED', uncommitted: true });
    expect(byPath.get('staged.txt')).toMatchObject({ status: 'FILE_CHANGE_STATUS_ADDED', uncommitted: true });
    expect(byPath.get('old.txt')).toMatchObject({ status: 'FILE_CHANGE_STATUS_DELETED', uncommitted: true });
    expect(byPath.get('renamed.txt')).toMatchObject({ status: 'FILE_CHANGE_STATUS_RENAMED', oldPath: 'moved.txt' });
    expect(byPath.get('notes/new.txt')).toMatchObject({ status: 'FILE_CHANGE_STATUS_UNTRACKED', uncommitted: true });
    expect(byPath.get('image.bin')).toMatchObject({ status: 'FILE_CHANGE_STATUS_UNTRACKED', binary: true });

    // Every file's numbers are git's own (renames aside, which numstat without -M splits in two).
    const expected = expectedNumstat(app, appDiff.mergeBase);
    for (const file of appDiff.files ?? []) {
      if (file.status === 'FILE_CHANGE_STATUS_RENAMED') continue;
      expect({ additions: file.additions ?? 0, deletions: file.deletions ?? 0, binary: file.binary ?? false }, file.path).toEqual(
        expected.get(file.path),
      );
    }
    expect([...expected.keys()].filter((p) => p !== 'moved.txt' && p !== 'renamed.txt').sort()).toEqual(
      [...byPath.keys()].filter((p) => p !== 'renamed.txt').sort(),
    );

    // The patch is git's: the untracked file's lines and the binary named as such.
    const patch = await grove(['session', 'diff', session.id, '--repo', 'app', '--agent', agent.address]);
    expect(patch.code, patch.stderr).toBe(0);
    expect(patch.stdout).toContain('+untracked\n+lines\n');
    expect(patch.stdout).toMatch(/Binary files \/dev\/null and b\/image.bin differ/);
    expect(patch.stdout).not.toContain('lib.txt');
    const stat = await grove(['session', 'diff', session.id, '--stat', '--repo', 'app', '--coordinator', coordinator.address]);
    expect(stat.stdout).toMatch(/untracked\s+bin\s+uncommitted\s+image\.bin/);
    expect(stat.stdout).toMatch(/renamed .* moved\.txt -> renamed\.txt/);
    const names = await grove(['session', 'diff', session.id, '--name-only', '--repo', 'app', '--agent', agent.address]);
    expect(names.stdout.trim().split('\n').sort()).toEqual([...byPath.keys()].sort());
  });

  it('takes untracked file names as names: a file called like a pathspec is shown as itself', async () => {
    const session = await newSession();
    const app = worktree(session, 'app');
    writeFileSync(join(app, ':(top)odd.txt'), 'one\n');
    writeFileSync(join(app, '*.txt'), 'two\nlines\n');
    const diff = json<{ repos: RepoDiffJson[] }>(
      await grove(['session', 'diff', session.id, '--json', '--repo', 'app', '--agent', agent.address]),
    );
    const files = new Map((diff.repos[0]!.files ?? []).map((f) => [f.path, f]));
    expect([...files.keys()].sort()).toEqual(['*.txt', ':(top)odd.txt']);
    expect(files.get(':(top)odd.txt')).toMatchObject({ status: 'FILE_CHANGE_STATUS_UNTRACKED', additions: 1 });
    expect(files.get('*.txt')).toMatchObject({ status: 'FILE_CHANGE_STATUS_UNTRACKED', additions: 2 });
  });

  it('says a patch over the cap is left out and points to --stat, which still lists the file', async () => {
    const session = await newSession();
    const app = worktree(session, 'app');
    writeFileSync(join(app, 'huge.txt'), 'a line of text that repeats\n'.repeat(200_000)); // ~5.6 MB
    const run = await grove(['session', 'diff', session.id, '--repo', 'app', '--agent', agent.address]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/over the 4 MiB cap/);
    expect(run.stdout).toMatch(/huge\.txt/);
    expect(run.stdout).not.toContain('+a line of text');
    const response = await client.diffSession({ sessionId: session.id, repo: 'app', statOnly: false });
    expect(response.repos[0]).toMatchObject({ patch: '', patchOmitted: true });
    expect(response.repos[0]!.patchBytes).toBeGreaterThan(4 * 1024 * 1024);
    expect(response.repos[0]!.files.map((f) => [f.path, f.additions])).toEqual([['huge.txt', 200_000]]);
  });

  it('commits all changes in each repo that has any, leaves clean repos alone, and refuses while a task runs', async () => {
    const session = await newSession();
    const app = dirty(session);
    const libHead = git(worktree(session, 'lib'), 'rev-parse', 'HEAD');

    // A running task: the commit is refused and nothing is staged or committed.
    const { task } = await client.startTask({
      sessionId: session.id,
      argv: ['sh', '-c', waitForFile('done-waiting')],
      prompt: '',
      env: {},
      repoId: repoB.id,
      requestId: '',
      tty: false,
      cols: 0,
      rows: 0,
      profile: '',
      continue: false,
    });
    await waitFor(
      async () => ((await client.getTask({ id: task!.id })).state === TaskState.TASK_STATE_RUNNING ? true : undefined),
      'the task to run',
    );
    const statusBefore = git(app, 'status', '--porcelain');
    const refused = await grove(['session', 'commit', session.id, '-m', 'too early', '--agent', agent.address]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/a task of session .* is running/);
    expect(git(app, 'status', '--porcelain')).toBe(statusBefore);
    writeFileSync(join(worktree(session, 'lib'), 'done-waiting'), '');
    await waitFor(
      async () => ((await client.getTask({ id: task!.id })).state === TaskState.TASK_STATE_SUCCEEDED ? true : undefined),
      'the task to end',
    );
    unlinkSync(join(worktree(session, 'lib'), 'done-waiting'));

    const made = json<{ commits: Array<{ repoName: string; sha: string }> }>(
      await grove(['session', 'commit', session.id, '-m', 'review: take it all', '--json', '--coordinator', coordinator.address]),
    );
    expect(made.commits.map((c) => c.repoName)).toEqual(['app']);
    expect(git(app, 'status', '--porcelain')).toBe('');
    expect(git(app, 'log', '-1', '--format=%s')).toBe('review: take it all\n');
    expect(git(app, 'show', '--name-only', '--no-renames', '--format=', 'HEAD').trim().split('\n').sort()).toEqual(
      ['README.md', 'image.bin', 'moved.txt', 'notes/new.txt', 'old.txt', 'renamed.txt', 'staged.txt'].sort(),
    );
    expect(git(worktree(session, 'lib'), 'rev-parse', 'HEAD')).toBe(libHead);
    const after = await client.diffSession({ sessionId: session.id, repo: '', statOnly: true });
    expect(after.repos.find((r) => r.repoName === 'app')!.files.every((f) => !f.uncommitted)).toBe(true);
    const again = await grove(['session', 'commit', session.id, '-m', 'nothing', '--agent', agent.address]);
    expect(again.stdout).toMatch(/nothing to commit/);
  });

  it('refuses bad input clearly and changes nothing', async () => {
    const session = await newSession();
    const app = dirty(session);
    const statusBefore = git(app, 'status', '--porcelain');
    expect((await grove(['session', 'commit', session.id, '--agent', agent.address])).code).toBe(2);
    expect((await grove(['session', 'diff', session.id, '--stat', '--name-only', '--agent', agent.address])).code).toBe(2);
    await expectStatus(
      client.commitSession({ sessionId: session.id, message: '  ', repo: '' }),
      Status.INVALID_ARGUMENT,
      /message is required/,
    );
    await expectStatus(client.commitSession({ sessionId: session.id, message: 'x'.repeat(70_000), repo: '' }), Status.INVALID_ARGUMENT);
    await expectStatus(client.commitSession({ sessionId: session.id, message: 'ok', repo: 'nope' }), Status.NOT_FOUND, /no repo "nope"/);
    await expectStatus(client.diffSession({ sessionId: session.id, repo: 'nope', statOnly: false }), Status.NOT_FOUND);
    await expectStatus(client.diffSession({ sessionId: 'ses_nope', repo: '', statOnly: false }), Status.INVALID_ARGUMENT);
    const unknown = session.id.slice(0, -1) + (session.id.endsWith('0') ? '1' : '0');
    await expectStatus(client.diffSession({ sessionId: unknown, repo: '', statOnly: false }), Status.NOT_FOUND);
    expect(git(app, 'status', '--porcelain')).toBe(statusBefore);
  });
});
