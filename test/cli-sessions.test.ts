import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitSync, makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, type ServiceProcess } from './helpers/processes.js';
import { grove, json } from './helpers/cli.js';
import { tempDir } from './helpers/temp.js';

// Controls a terminal acts on, and a direction override: none may reach a person's screen raw.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f\u202e]/;

interface SessionJson {
  id: string;
  state: string;
  worktrees: Array<{ repoName: string; path: string; state: string; preservedRef?: string }>;
}

describe('grove session, preserved and orphans verbs against a real agent', () => {
  const tmp = tempDir();
  const work = join(tmp.path, 'work');
  let agent: ServiceProcess;
  let target: string[];

  beforeAll(async () => {
    mkdirSync(work);
    agent = await startAgentProcess({
      dataDir: join(tmp.path, 'agent'),
      extraArgs: ['--worktree-root', join(tmp.path, 'wt')],
    });
    target = ['--agent', agent.address];
    for (const name of ['app', 'lib']) {
      makeRepo(join(work, name), { 'README.md': `# ${name}\n`, 'version.txt': 'v1\n' });
      expect((await grove(['repo', 'add', name, ...target], { cwd: work })).code).toBe(0);
    }
  });
  afterAll(async () => {
    await agent?.stop();
    tmp.remove();
  });

  async function createSession(branch: string, extra: string[] = []): Promise<SessionJson> {
    const run = await grove(['session', 'create', '--repo', 'app', '--repo', 'lib', '--branch', branch, '--json', ...extra, ...target]);
    return json<{ session: SessionJson }>(run).session;
  }
  const pathOf = (session: SessionJson, repo: string) => session.worktrees.find((w) => w.repoName === repo)!.path;

  it('shows control and bidi characters in human output as escapes; --json stays exact', async () => {
    const title = 'evil\x1b[2J\x1b]0;pwned\x07 \u202etxt.exe\rok';
    const created = await grove(['session', 'create', '--repo', 'app', '--branch', 'feat/escapes', '--title', title, '--json', ...target]);
    const id = json<{ session: SessionJson & { title: string } }>(created).session.id;
    const human = await grove(['session', 'get', id, ...target]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^TITLE +evil\\x1b\[2J\\x1b\]0;pwned\\x07 \\u202etxt\.exe\\x0dok$/m);
    expect(human.stdout).not.toMatch(UNSAFE);
    const list = await grove(['session', 'ls', ...target]);
    expect(list.stdout).not.toMatch(UNSAFE);
    const exact = json<{ title: string }>(await grove(['session', 'get', id, '--json', ...target]));
    expect(exact.title).toBe(title);
    expect((await grove(['session', 'kill', id, ...target])).code).toBe(0);
  });

  it('creates a two-repo session and shows it as a table, by id and in the list', async () => {
    const run = await grove([
      'session',
      'create',
      '--repo',
      'app',
      '--repo',
      'lib',
      '--branch',
      'feat/table',
      '--title',
      'A table',
      '--label',
      'team=core',
      '--label',
      'tier=1',
      ...target,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const [created, header, ...rows] = run.stdout.trimEnd().split('\n');
    const id = /^created session (ses_\w+) on branch feat\/table$/.exec(created!)?.[1];
    expect(id).toBeDefined();
    expect(header).toMatch(/^REPO +STATE +BRANCH +PATH +PRESERVED$/);
    expect(rows).toEqual([expect.stringMatching(/^app +ACTIVE +feat\/table +\/\S+\/app +-$/), expect.stringMatching(/^lib +ACTIVE /)]);

    const get = await grove(['session', 'get', id!, ...target]);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(new RegExp(`^ID +${id}$`, 'm'));
    expect(get.stdout).toMatch(/^TITLE +A table$/m);
    expect(get.stdout).toMatch(/^LABELS +team=core,tier=1$/m);
    expect(get.stdout).toMatch(/^ACTIVITY +IDLE$/m);

    const ls = await grove(['session', 'ls', '--where', 'tier=1', ...target]);
    expect(ls.code).toBe(0);
    const [lsHeader, ...lsRows] = ls.stdout.trimEnd().split('\n');
    expect(lsHeader).toMatch(/^ID +BRANCH +STATE +ACTIVITY +REPOS +TITLE$/);
    expect(lsRows).toEqual([expect.stringMatching(new RegExp(`^${id} +feat/table +ACTIVE +IDLE +app,lib +A table$`))]);

    const listed = json<{ sessions: SessionJson[]; revision: number }>(
      await grove(['session', 'ls', '--json', '--state', 'active', ...target]),
    );
    expect(listed.sessions.map((s) => s.id)).toContain(id);
    expect(listed.revision).toBeGreaterThan(0);
    const none = await grove(['session', 'ls', '--state', 'stopped', '--repo', 'lib', ...target]);
    expect(none).toMatchObject({ code: 0, stdout: '', stderr: 'no sessions\n' });
  });

  it('refuses to kill a session with work in it: exit 3, a reason per repo, nothing removed', async () => {
    const session = await createSession('feat/refuse');
    writeFileSync(join(pathOf(session, 'app'), 'version.txt'), 'v2 in progress\n');
    writeFileSync(join(pathOf(session, 'lib'), 'notes.txt'), 'untracked\n');

    const run = await grove(['session', 'kill', session.id, ...target]);
    expect(run.code).toBe(3);
    const [headline, header, ...rows] = run.stdout.trimEnd().split('\n');
    expect(headline).toBe(`session ${session.id} was not killed; nothing was removed:`);
    expect(header).toMatch(/^REPO +REASON +MESSAGE$/);
    expect(rows).toEqual([
      expect.stringMatching(/^app +DIRTY_TRACKED +modified tracked files: version.txt$/),
      expect.stringMatching(/^lib +DIRTY_UNTRACKED +untracked files: notes.txt$/),
    ]);
    expect(run.stderr).toMatch(
      new RegExp(`^grove: session ${session.id} not killed: work in app, lib; .*grove session cleanup ${session.id}.*\\n$`),
    );
    expect(existsSync(join(pathOf(session, 'app'), 'version.txt'))).toBe(true);

    const asJson = await grove(['session', 'kill', session.id, '--json', ...target]);
    expect(asJson.code).toBe(3);
    const response = JSON.parse(asJson.stdout) as { freed?: boolean; refusals: Array<{ repoName: string; reason: string }> };
    expect(response.freed).toBeUndefined();
    expect(response.refusals.map((r) => `${r.repoName}:${r.reason}`)).toEqual(['app:DIRTY_TRACKED', 'lib:DIRTY_UNTRACKED']);

    // Clean worktrees are removed, and restorable.
    const clean = await createSession('feat/clean');
    const killed = await grove(['session', 'kill', clean.id, ...target]);
    expect(killed).toMatchObject({ code: 0, stderr: '' });
    expect(killed.stdout).toBe(`killed session ${clean.id}: its worktrees are removed (restorable)\n`);
    expect(existsSync(pathOf(clean, 'app'))).toBe(false);
  });

  it('cleans up by preserving the work, lists it, restores the session and applies it back', async () => {
    const session = await createSession('feat/preserve');
    const app = pathOf(session, 'app');
    const lib = pathOf(session, 'lib');
    writeFileSync(join(app, 'version.txt'), 'v2 preserved\n');
    writeFileSync(join(lib, 'new.txt'), 'brand new\n');

    const cleanup = await grove(['session', 'cleanup', session.id, ...target]);
    expect(cleanup.stderr).toBe('');
    expect(cleanup.code).toBe(0);
    expect(cleanup.stdout).toContain(`cleaned up session ${session.id}; 2 worktree(s) with work preserved\n`);
    expect(cleanup.stdout).toMatch(new RegExp(`^app +UNAVAILABLE +feat/preserve +\\S+ +refs/grove/preserved/${session.id}/app$`, 'm'));
    expect(existsSync(app)).toBe(false);

    const preserved = await grove(['preserved', 'ls', session.id, ...target]);
    expect(preserved.code).toBe(0);
    const [header, ...rows] = preserved.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^SESSION +REPO +REF +COMMIT$/);
    expect(rows).toEqual([
      expect.stringMatching(new RegExp(`^${session.id} +app +refs/grove/preserved/${session.id}/app +[0-9a-f]{12}$`)),
      expect.stringMatching(new RegExp(`^${session.id} +lib +refs/grove/preserved/${session.id}/lib +[0-9a-f]{12}$`)),
    ]);
    const all = json<{ preserved: Array<{ sessionId: string }> }>(await grove(['preserved', 'ls', '--json', ...target]));
    expect(all.preserved.filter((p) => p.sessionId === session.id)).toHaveLength(2);

    // Applying needs the worktree back first: the agent says so, exit 1.
    const early = await grove(['preserved', 'apply', session.id, 'app', ...target]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/^grove: FAILED_PRECONDITION \(WORKTREE_NOT_ACTIVE\): /);

    // Something in the way of a worktree is moved aside, never deleted.
    mkdirSync(lib, { recursive: true });
    writeFileSync(join(lib, 'stray.txt'), 'in the way\n');
    const restore = await grove(['session', 'restore', session.id, ...target]);
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain(`restored session ${session.id}: ACTIVE\n`);
    const moved = /^moved aside: (\S+) -> (\S+)$/m.exec(restore.stdout);
    expect(moved?.[1]).toBe(lib);
    expect(readFileSync(join(moved![2]!, 'stray.txt'), 'utf8')).toBe('in the way\n');

    const applied = await grove(['preserved', 'apply', session.id, 'app', ...target]);
    expect(applied).toMatchObject({ code: 0, stderr: '', stdout: `applied the preserved work of app to ${app}\n` });
    expect(readFileSync(join(app, 'version.txt'), 'utf8')).toBe('v2 preserved\n');
    expect(json(await grove(['preserved', 'apply', session.id, 'lib', '--json', ...target]))).toHaveProperty('session');
    expect(readFileSync(join(lib, 'new.txt'), 'utf8')).toBe('brand new\n');

    const dropped = await grove(['preserved', 'drop', session.id, 'lib', ...target]);
    expect(dropped).toMatchObject({ code: 0, stdout: `dropped the preserved work of lib in session ${session.id}\n` });
    const left = json<{ preserved: Array<{ ref: string }> }>(await grove(['preserved', 'ls', session.id, '--json', ...target]));
    expect(left.preserved.map((p) => p.ref)).toEqual([`refs/grove/preserved/${session.id}/app`]);
  });

  it('lists orphans and prunes the stale worktree entries among them, never directories', async () => {
    const stray = join(tmp.path, 'wt', 'ses_not_a_real_session');
    mkdirSync(stray, { recursive: true });
    const gone = join(tmp.path, 'wt', 'ses_gone', 'lib');
    gitSync(join(work, 'lib'), 'worktree', 'add', '--quiet', '-b', 'scratch', gone);
    rmSync(gone, { recursive: true });
    // The user's own worktree on a disk that is away right now: not Grove's, never pruned.
    const usersOwn = join(tmp.path, 'unmounted-disk', 'lib');
    gitSync(join(work, 'lib'), 'worktree', 'add', '--quiet', '-b', 'users-own', usersOwn);
    rmSync(usersOwn, { recursive: true });

    const ls = await grove(['orphans', 'ls', ...target]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^KIND +PATH +REPO$/m);
    expect(ls.stdout).toMatch(new RegExp(`^DIRECTORY +${stray} +-$`, 'm'));
    expect(ls.stdout).toMatch(new RegExp(`^STALE_WORKTREE +${gone} +rep_\\w+$`, 'm'));

    const pruned = json<{ pruned: Array<{ kind: string; path: string }> }>(await grove(['orphans', 'prune', '--json', ...target]));
    expect(pruned.pruned).toEqual([expect.objectContaining({ kind: 'KIND_STALE_WORKTREE', path: gone })]);
    expect(existsSync(stray)).toBe(true);
    expect(await grove(['orphans', 'prune', ...target])).toMatchObject({ code: 0, stdout: '', stderr: 'nothing to prune\n' });
    const after = await grove(['orphans', 'ls', ...target]);
    expect(after.stdout).toContain(stray);
    expect(after.stdout).not.toContain(gone);
    expect(ls.stdout).not.toContain(usersOwn);
    expect(gitSync(join(work, 'lib'), 'worktree', 'list', '--porcelain')).toContain(usersOwn);
  });

  it('repo set --keep-ignored makes an ignored .env work; the ignored files a kill removes are listed', async () => {
    makeRepo(join(work, 'kept'), { 'README.md': '# kept\n', '.gitignore': '.env\n*.log\n' });
    expect((await grove(['repo', 'add', 'kept', ...target], { cwd: work })).code).toBe(0);
    const set = await grove(['repo', 'set', 'kept', '--keep-ignored', '.env', ...target]);
    expect(set.stdout).toBe('repo kept keeps ignored files matching .env\n');
    expect((await grove(['repo', 'get', 'kept', ...target])).stdout).toMatch(/^KEEP IGNORED +\.env$/m);
    const session = json<{ session: SessionJson }>(
      await grove(['session', 'create', '--repo', 'kept', '--branch', 'keep-env', '--json', ...target]),
    ).session;
    const wt = pathOf(session, 'kept');
    writeFileSync(join(wt, '.env'), 'TOKEN=only-copy\n');
    writeFileSync(join(wt, 'build.log'), 'noise\n');
    const refused = await grove(['session', 'kill', session.id, ...target]);
    expect(refused.code).toBe(3);
    expect(refused.stdout).toMatch(/KEPT_IGNORED/);
    rmSync(join(wt, '.env'));
    const killed = await grove(['session', 'kill', session.id, ...target]);
    expect(killed.code).toBe(0);
    expect(killed.stdout).toContain('kept: ignored files removed with the worktree: build.log\n');
    expect((await grove(['repo', 'set', 'kept', ...target])).code).toBe(2);
    expect((await grove(['repo', 'set', 'kept', '--no-keep-ignored', ...target])).stdout).toBe('repo kept keeps no ignored files\n');
  });

  it('reports usage errors on one line, exit 2', async () => {
    const usage = async (args: string[], pattern: RegExp) => {
      const run = await grove([...args, ...target]);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(pattern);
      expect(run.stderr.split('\n')).toHaveLength(2);
    };
    await usage(['session', 'create', '--branch', 'x'], /^grove: session create: missing --repo R$/m);
    await usage(['session', 'create', '--repo', 'app'], /missing --branch B/);
    await usage(['session', 'create', '--repo', 'app', '--branch', 'b', '--label', 'novalue'], /--label takes KEY=VALUE, got "novalue"/);
    await usage(
      ['session', 'create', '--repo', 'app', '--branch', 'b', '--where', 'team=a'],
      /--where chooses an agent, so it needs --coordinator/,
    );
    await usage(
      ['session', 'ls', '--state', 'sleeping'],
      /--state must be one of active, stopped, archived, pending_branch, setting_up, setup_failed; got "sleeping"/,
    );
    await usage(['session', 'get', 'ses_x', '--on', 'demo-a'], /--on AGENT needs --coordinator/);
    await usage(['session', 'restore'], /session restore: missing ID\.\.\. \(or --all\)/);
    await usage(['session', 'restore', 'ses_x', '--all'], /not both/);
    await usage(['preserved', 'apply', 'ses_x'], /preserved apply: missing REPO/);
  });
});
