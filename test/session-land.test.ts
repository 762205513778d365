import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Status, type Channel } from 'nice-grpc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LandStrategy, type AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import { JobKind, JobState, TaskState, type Job, type Session } from '../gen/grove/agent/v1/resources.js';
import { grove } from './helpers/cli.js';
import { waitForFile } from './helpers/fixtures.js';
import { commitAll, makeRepo, writeFiles } from './helpers/git-repo.js';
import { agentClient, expectStatus } from './helpers/grpc.js';
import { startAgentProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
const CRASH = (point: string) => ({ GROVE_ENABLE_CRASH_POINTS: '1', GROVE_CRASH_AT: point });

describe('session land: all or nothing across repos', () => {
  const tmp = tempDir();
  let dir = '';
  let tests = 0;
  let agent: ServiceProcess | undefined;
  let channel: Channel | undefined;
  let client: AgentServiceClient;
  let repos: Record<'app' | 'lib', { id: string; path: string }>;

  async function startAgent(env: Record<string, string> = {}) {
    channel?.close();
    agent = await startAgentProcess({ dataDir: join(dir, 'agent'), env });
    ({ client, channel } = agentClient(agent.address));
  }

  beforeEach(async () => {
    dir = join(tmp.path, `t${++tests}`);
    await startAgent();
    const made = {} as typeof repos;
    for (const name of ['app', 'lib'] as const) {
      const path = makeRepo(join(dir, name), { 'README.md': `# ${name}\n`, 'shared.txt': 'one\ntwo\nthree\n' });
      made[name] = { id: (await client.addRepo({ path, name })).repo!.id, path };
    }
    repos = made;
  });
  afterEach(async () => {
    channel?.close();
    await agent?.stop();
    agent = undefined;
  });

  async function workedSession(branch: string, change: (name: 'app' | 'lib') => Record<string, string>): Promise<Session> {
    const request = { repoIds: [repos.app.id, repos.lib.id], branch, base: '', title: 'the work', labels: {}, requestId: '' };
    const { session } = await client.createSession(request);
    for (const worktree of session!.worktrees) {
      writeFiles(worktree.path, change(worktree.repoName as 'app' | 'lib'));
      commitAll(worktree.path, `work in ${worktree.repoName}`);
    }
    return session!;
  }
  const land = async (session: Session, extra: Partial<Parameters<AgentServiceClient['landSession']>[0]> = {}) =>
    (
      await client.landSession({
        sessionId: session.id,
        into: '',
        strategy: LandStrategy.LAND_STRATEGY_MERGE,
        push: false,
        idempotencyKey: '',
        ...extra,
      })
    ).job!;
  const ended = (id: string) =>
    waitFor(async () => {
      const job = await client.getJob({ id }).catch(() => undefined);
      return job && [JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED].includes(job.state)
        ? job
        : undefined;
    }, `job ${id} to end`);
  const mainOf = (name: 'app' | 'lib') => git(repos[name].path, 'rev-parse', 'refs/heads/main');
  /** The user's own checkout (the registered repo path) has main checked out: is it at HEAD, clean? */
  const checkoutClean = (name: 'app' | 'lib') => git(repos[name].path, 'status', '--porcelain') === '';

  it('lands a two-repo session: both targets advance, the clean checkouts follow, and the session records it', async () => {
    const session = await workedSession('feature', (name) => ({ [`${name}.txt`]: `new in ${name}\n` }));
    // app's main moved on meanwhile (a real merge there); lib's did not (a fast-forward).
    writeFiles(repos.app.path, { 'elsewhere.txt': 'main moved\n' });
    commitAll(repos.app.path, 'main moved on');
    const before = { app: mainOf('app'), lib: mainOf('lib') };
    const job = await ended((await land(session)).id);
    expect(job.state, job.error).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(job.kind).toBe(JobKind.JOB_KIND_LAND_SESSION);
    for (const name of ['app', 'lib'] as const) {
      expect(mainOf(name)).not.toBe(before[name]);
      expect(git(repos[name].path, 'merge-base', '--is-ancestor', 'feature', 'main')).toBe(''); // throws when not
      // The user's checkout was brought along: its files are the landed ones and it is clean.
      expect(readFileSync(join(repos[name].path, `${name}.txt`), 'utf8')).toBe(`new in ${name}\n`);
      expect(checkoutClean(name)).toBe(true);
    }
    expect(git(repos.app.path, 'rev-list', '--parents', '-n', '1', 'main').split(' ')).toEqual([
      mainOf('app'),
      before.app,
      git(repos.app.path, 'rev-parse', 'feature'),
    ]);
    expect(git(repos.app.path, 'log', '-1', '--format=%s', 'main')).toBe('Land feature: the work');
    expect(mainOf('lib')).toBe(git(repos.lib.path, 'rev-parse', 'feature'));
    const got = await client.getSession({ id: session.id });
    expect(got.landings.map((l) => [l.repoName, l.target, l.commit])).toEqual([
      ['app', 'main', mainOf('app')],
      ['lib', 'main', mainOf('lib')],
    ]);
    const shown = await grove(['session', 'get', session.id, '--agent', agent!.address]);
    expect(shown.stdout).toMatch(/LANDED[\s\S]*app\s+main\s+[0-9a-f]{12}/);
  });

  it('with a conflict in the second repo, moves neither target and names the paths', async () => {
    const session = await workedSession('conflicting', (name) => ({ 'shared.txt': `session's ${name}\n` }));
    // Meanwhile main of lib changed the same lines.
    writeFiles(repos.lib.path, { 'shared.txt': 'main moved on\n' });
    commitAll(repos.lib.path, 'main changes shared');
    const before = { app: mainOf('app'), lib: mainOf('lib') };
    const userFile = readFileSync(join(repos.lib.path, 'shared.txt'));
    const job = await ended((await land(session)).id);
    expect(job.state).toBe(JobState.JOB_STATE_FAILED);
    expect(job.error).toMatch(/conflicts; no target was moved: lib: shared\.txt/);
    expect({ app: mainOf('app'), lib: mainOf('lib') }).toEqual(before);
    expect(readFileSync(join(repos.lib.path, 'shared.txt'))).toEqual(userFile);
    expect(checkoutClean('app') && checkoutClean('lib')).toBe(true);
    expect((await client.getSession({ id: session.id })).landings).toEqual([]);
  });

  it('refuses, before anything moves, when the checkout of the target has changes in the paths the land touches', async () => {
    const session = await workedSession('touching', (name) => ({ [`${name}.txt`]: `landed ${name}\n` }));
    writeFileSync(join(repos.lib.path, 'lib.txt'), 'my own untracked work\n');
    writeFileSync(join(repos.lib.path, 'README.md'), '# lib, edited by me\n'); // not touched by the land
    const before = { app: mainOf('app'), lib: mainOf('lib') };
    const status = git(repos.lib.path, 'status', '--porcelain');
    const job = await ended((await land(session)).id);
    expect(job.state).toBe(JobState.JOB_STATE_FAILED);
    expect(job.error).toMatch(/has changes in lib\.txt/);
    expect({ app: mainOf('app'), lib: mainOf('lib') }).toEqual(before);
    expect(readFileSync(join(repos.lib.path, 'lib.txt'), 'utf8')).toBe('my own untracked work\n');
    expect(readFileSync(join(repos.lib.path, 'README.md'), 'utf8')).toBe('# lib, edited by me\n');
    expect(git(repos.lib.path, 'status', '--porcelain')).toBe(status);
  });

  it('never overwrites a target someone moved meanwhile: the land is undone in every repo', async () => {
    const session = await workedSession('raced', (name) => ({ [`${name}.txt`]: `raced ${name}\n` }));
    const before = { app: mainOf('app'), lib: mainOf('lib') };
    // The agent dies once its plan is recorded, before any ref moves; meanwhile lib's main moves.
    await agent!.stop();
    await startAgent(CRASH('land.planned'));
    const job = await land(session);
    await agent!.exited;
    writeFiles(repos.lib.path, { 'theirs.txt': 'pushed by someone else\n' });
    const theirs = commitAll(repos.lib.path, 'someone else');
    await startAgent();
    const done = await ended(job.id);
    expect(done.state).toBe(JobState.JOB_STATE_FAILED);
    expect(done.error).toMatch(/main in repo lib moved while landing/);
    expect(mainOf('app')).toBe(before.app);
    expect(mainOf('lib')).toBe(theirs);
    expect(checkoutClean('app') && checkoutClean('lib')).toBe(true);
  });

  it.each(['land.planned', 'land.ref_moved'])('a SIGKILL at %s leaves every target unchanged or landed, never half', async (point) => {
    const session = await workedSession(`crash-${point.replace('.', '-')}`, (name) => ({ [`${name}.txt`]: `crash ${name}\n` }));
    const before = { app: mainOf('app'), lib: mainOf('lib') };
    await agent!.stop();
    await startAgent(CRASH(point));
    const job = await land(session);
    await agent!.exited;
    await startAgent();
    const done = await ended(job.id);
    expect(done.state, done.error).toBe(JobState.JOB_STATE_SUCCEEDED);
    const after = { app: mainOf('app'), lib: mainOf('lib') };
    expect(after.app).not.toBe(before.app);
    expect(after.lib).not.toBe(before.lib);
    for (const name of ['app', 'lib'] as const) {
      expect(readFileSync(join(repos[name].path, `${name}.txt`), 'utf8')).toBe(`crash ${name}\n`);
      expect(checkoutClean(name)).toBe(true);
    }
    expect((await client.getSession({ id: session.id })).landings).toHaveLength(2);
  });

  it('a crash after every ref moved, then a commit on top of a target: the resumed land finishes, undoing nothing', async () => {
    const session = await workedSession('finished', (name) => ({ [`${name}.txt`]: `finished ${name}\n` }));
    await agent!.stop();
    await startAgent(CRASH('land.moved'));
    const job = await land(session);
    await agent!.exited;
    const landed = { app: mainOf('app'), lib: mainOf('lib') };
    // The user builds on the landed app main while the agent is down.
    writeFiles(repos.app.path, { 'next.txt': 'on top of the land\n' });
    const onTop = commitAll(repos.app.path, 'next step');
    await startAgent();
    const done = await ended(job.id);
    expect(done.state, done.error).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(mainOf('app')).toBe(onTop);
    expect(mainOf('lib')).toBe(landed.lib);
    expect(readFileSync(join(repos.lib.path, 'lib.txt'), 'utf8')).toBe('finished lib\n');
  });

  it('squashes into one commit, or rebases into a line, and pushes with --push', async () => {
    const session0 = await workedSession('no-remote', (name) => ({ [`${name}-0.txt`]: 'x\n' }));
    await expectStatus(land(session0, { push: true }), Status.FAILED_PRECONDITION, /repo "app" has no remote/);
    const bare = join(dir, 'app-remote.git');
    for (const name of ['app', 'lib'] as const) {
      execFileSync('git', ['clone', '--quiet', '--bare', repos[name].path, join(dir, `${name}-remote.git`)]);
      git(repos[name].path, 'remote', 'add', 'origin', join(dir, `${name}-remote.git`));
    }
    const session = await workedSession('squashed', (name) => ({ [`${name}.txt`]: 'first\n' }));
    const app = session.worktrees.find((w) => w.repoName === 'app')!.path;
    writeFiles(app, { 'app.txt': 'second\n' });
    commitAll(app, 'second commit');
    const before = mainOf('app');
    const run = await grove(['session', 'land', session.id, '--strategy', 'squash', '--push', '--wait', '--agent', agent!.address]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/SUCCEEDED: landed and pushed/);
    expect(git(repos.app.path, 'rev-list', '--count', `${before}..main`)).toBe('1');
    expect(git(repos.app.path, 'rev-parse', 'main^')).toBe(before);
    expect(git(bare, 'rev-parse', 'refs/heads/main')).toBe(mainOf('app'));

    const rebased = await workedSession('rebased', (name) => ({ [`${name}-r.txt`]: 'rebased\n' }));
    writeFiles(repos.lib.path, { 'elsewhere.txt': 'main moved\n' });
    commitAll(repos.lib.path, 'main moved');
    const libBefore = mainOf('lib');
    const job = await ended((await land(rebased, { strategy: LandStrategy.LAND_STRATEGY_REBASE })).id);
    expect(job.state, job.error).toBe(JobState.JOB_STATE_SUCCEEDED);
    expect(git(repos.lib.path, 'rev-list', '--merges', `${libBefore}..main`)).toBe('');
    expect(git(repos.lib.path, 'rev-parse', 'main^')).toBe(libBefore);
  });

  it('refuses bad input clearly and queues nothing', async () => {
    const session = await workedSession('bad-input', (name) => ({ [`${name}.txt`]: 'x\n' }));
    const landJobs = async () =>
      (await client.listJobs({ pageSize: 100, pageToken: '', state: 0, kind: JobKind.JOB_KIND_LAND_SESSION, repoId: '' })).jobs;
    await expectStatus(land(session, { into: 'no-such-branch' }), Status.FAILED_PRECONDITION, /has no branch "no-such-branch"/);
    await expectStatus(land(session, { into: 'bad..name' }), Status.INVALID_ARGUMENT);
    await expectStatus(land(session, { into: 'bad-input' }), Status.INVALID_ARGUMENT, /its own branch/);
    await expectStatus(land(session, { strategy: 99 as LandStrategy }), Status.INVALID_ARGUMENT, /unknown strategy/);
    expect((await grove(['session', 'land', session.id, '--strategy', 'octopus', '--agent', agent!.address])).code).toBe(2);
    await expectStatus(
      client.submitJob({
        kind: JobKind.JOB_KIND_LAND_SESSION,
        repoId: '',
        branch: '',
        base: '',
        sessionId: session.id,
        sessionIds: [],
        idempotencyKey: '',
      }),
      Status.INVALID_ARGUMENT,
      /LandSession/,
    );
    // Uncommitted work: refused, and the message says how to commit it.
    const app = session.worktrees.find((w) => w.repoName === 'app')!.path;
    writeFileSync(join(app, 'wip.txt'), 'not committed\n');
    await expectStatus(land(session), Status.FAILED_PRECONDITION, /uncommitted work in app.*grove session commit/);
    execFileSync('rm', [join(app, 'wip.txt')]);
    // A running task: refused.
    const { task } = await client.startTask({
      sessionId: session.id,
      argv: ['sh', '-c', waitForFile('go')],
      prompt: '',
      env: {},
      repoId: repos.app.id,
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
    await expectStatus(land(session), Status.FAILED_PRECONDITION, /is running/);
    writeFileSync(join(app, 'go'), '');
    await waitFor(
      async () => ((await client.getTask({ id: task!.id })).state === TaskState.TASK_STATE_SUCCEEDED ? true : undefined),
      'the task to end',
    );
    execFileSync('rm', [join(app, 'go')]);
    expect(await landJobs()).toEqual([]);
    const job: Job = await land(session, { idempotencyKey: 'once' });
    expect((await land(session, { idempotencyKey: 'once' })).id).toBe(job.id);
  });
});
