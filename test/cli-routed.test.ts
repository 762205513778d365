import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../clients/cli/cli-io.js';
import { runCli } from '../clients/cli/run-cli.js';
import { gitSync, makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { grove, groveLive, json } from './helpers/cli.js';
import { tempDir } from './helpers/temp.js';

/**
 * A remote whose fetch waits for `gate` (bounded, so nothing outlives a failed test for
 * long): git's ext transport runs this script in place of a connection.
 */
function gatedRemote(gate: string, origin: string): string {
  const script = `i=0; until [ -f ${gate} ] || [ $i -gt 400 ]; do i=$((i+1)); sleep 0.05; done; exec git-upload-pack ${origin}`;
  return `ext::sh -c ${script.replaceAll('%', '%%').replaceAll(' ', '% ')}`;
}

/** Runs a verb in this process with a fake terminal, to see what a person's screen gets. */
function inProcess(args: string[], isTTY: boolean): { done: Promise<number>; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (text) => void (out += text),
    outExact: (text) => void (out += text),
    outBytes: (data) => void (out += Buffer.from(data).toString()),
    err: (text) => void (err += text),
    isTTY,
    env: {},
    cwd: process.cwd(),
  };
  return { done: runCli(args, io), out: () => out, err: () => err };
}

describe('grove verbs routed through a coordinator to two agents', () => {
  const tmp = tempDir();
  const work = join(tmp.path, 'work');
  let coordinator: ServiceProcess;
  let alpha: ServiceProcess;
  let beta: ServiceProcess;
  let via: string[];
  const slowGate = join(tmp.path, 'slow-gate');

  const startAgent = (name: string, team: string) =>
    startAgentProcess({
      dataDir: join(tmp.path, name),
      extraArgs: ['--coordinator', coordinator.address, '--name', name, '--labels', `team=${team}`, '--heartbeat', '200ms'],
    });

  beforeAll(async () => {
    mkdirSync(work);
    coordinator = await startCoordinatorProcess({ dataDir: join(tmp.path, 'coordinator') });
    [alpha, beta] = await Promise.all([startAgent('alpha', 'a'), startAgent('beta', 'b')]);
    via = ['--coordinator', coordinator.address];
    makeRepo(join(work, 'app'), { 'README.md': '# app\n', 'version.txt': 'v1\n' });
    gitSync(tmp.path, 'clone', '--quiet', '--bare', join(work, 'app'), join(tmp.path, 'origin.git'));
    gitSync(join(work, 'app'), 'remote', 'add', 'origin', join(tmp.path, 'origin.git'));
    makeRepo(join(work, 'tools'));
    makeRepo(join(work, 'slow'));
    gitSync(join(work, 'slow'), 'config', 'protocol.ext.allow', 'always');
    gitSync(join(work, 'slow'), 'remote', 'add', 'origin', gatedRemote(slowGate, join(tmp.path, 'origin.git')));
    expect((await grove(['repo', 'add', 'slow', '--agent', alpha.address], { cwd: work })).code).toBe(0);
    expect((await grove(['repo', 'add', 'app', '--agent', alpha.address], { cwd: work })).code).toBe(0);
    expect((await grove(['repo', 'add', 'tools', '--agent', beta.address], { cwd: work })).code).toBe(0);
    await waitFor(async () => {
      const { stdout } = await grove(['agents', 'ls', ...via]);
      return /^alpha +\S+ +CONNECTED/m.test(stdout) && /^beta +\S+ +CONNECTED/m.test(stdout) ? true : undefined;
    }, 'both agents to connect');
  });
  afterAll(async () => {
    // Lets a fetch still waiting at the gate finish before its directory goes away.
    writeFileSync(slowGate, '');
    await Promise.all([alpha?.stop(), beta?.stop()]);
    await coordinator?.stop();
    tmp.remove();
  });

  /** Until the coordinator's projection has the session, calls cannot be routed by its id. */
  const projected = (id: string) =>
    waitFor(async () => ((await grove(['session', 'ls', ...via])).stdout.includes(id) ? true : undefined), `${id} to be projected`);

  async function createOn(team: string, repo: string, branch: string): Promise<{ id: string; path: string }> {
    const run = await grove(['session', 'create', ...via, '--where', `team=${team}`, '--repo', repo, '--branch', branch]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const id = /^created session (ses_\w+) on branch \S+ on agent \w+$/m.exec(run.stdout)?.[1];
    const path = new RegExp(`^${repo} +ACTIVE +\\S+ +(\\S+)`, 'm').exec(run.stdout)?.[1];
    expect(id && path).toBeTruthy();
    await projected(id!);
    return { id: id!, path: path! };
  }

  it('creates sessions on the agent the selector picks and lists them with an AGENT column', async () => {
    const run = await grove([
      'session',
      'create',
      ...via,
      '--where',
      'team=a',
      '--repo',
      'app',
      '--branch',
      'feat/routed',
      '--title',
      'routed',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^created session ses_\w+ on branch feat\/routed on agent alpha$/m);
    const onAlpha = /^created session (ses_\w+)/m.exec(run.stdout)![1]!;
    const onBeta = await createOn('b', 'tools', 'feat/tools');

    const noMatch = await grove(['session', 'create', ...via, '--where', 'team=b', '--repo', 'app', '--branch', 'x']);
    expect(noMatch.code).toBe(1);
    expect(noMatch.stderr).toMatch(/^grove: FAILED_PRECONDITION \(NO_MATCHING_AGENT\): /);

    const ls = await grove(['session', 'ls', ...via]);
    expect(ls.code).toBe(0);
    const [header, ...rows] = ls.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^AGENT +ID +BRANCH +STATE +ACTIVITY +REPOS +TITLE$/);
    expect(rows).toContainEqual(expect.stringMatching(/^alpha +ses_\w+ +feat\/routed +ACTIVE +IDLE +app +routed$/));
    expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^beta +${onBeta.id} +feat/tools +ACTIVE +IDLE +tools +-$`)));
    // --on keeps exactly beta's sessions (other tests may have made more of them).
    type Listed = { sessions: Array<{ id: string; agentId: string }> };
    const everyone = json<Listed>(await grove(['session', 'ls', ...via, '--json'])).sessions;
    const betaId = everyone.find((s) => s.id === onBeta.id)!.agentId;
    const onlyBeta = json<Listed>(await grove(['session', 'ls', ...via, '--on', 'beta', '--json']));
    const onlyBetaIds = onlyBeta.sessions.map((s) => s.id);
    expect(onlyBetaIds).toEqual(everyone.filter((s) => s.agentId === betaId).map((s) => s.id));
    expect(onlyBetaIds).toContain(onBeta.id);
    expect(onlyBetaIds).not.toContain(onAlpha);

    const get = await grove(['session', 'get', onBeta.id, ...via]);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/^AGENT +beta$/m);
  });

  it('runs a task routed by its session id, waits for it and lists it with its agent', async () => {
    const { id } = await createOn('a', 'app', 'feat/task');
    const run = await grove(['task', 'run', id, '--wait', ...via, '--', 'sh', '-c', 'echo routed hello; exit 3']);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('routed hello\n');
    expect(run.stderr).toMatch(new RegExp(`^task tsk_\\w+ \\w+ in session ${id} on agent alpha$`, 'm'));
    expect(run.stderr).toMatch(/^grove: task (tsk_\w+) FAILED: exited with code 3$/m);
    const taskId = /^grove: task (tsk_\w+) FAILED/m.exec(run.stderr)![1]!;

    const logs = await grove(['task', 'logs', taskId, '--follow', ...via]);
    expect(logs).toMatchObject({ code: 0, stdout: 'routed hello\n' });
    const ls = await waitFor(async () => {
      const listed = await grove(['task', 'ls', ...via]);
      return listed.stdout.includes(taskId) ? listed : undefined;
    }, 'the coordinator to project the task');
    expect(ls.stdout).toMatch(/^AGENT +ID +SESSION +SEQ +STATE +EXIT +ARGV$/m);
    expect(ls.stdout).toMatch(new RegExp(`^alpha +${taskId} +${id} +1 +FAILED +3 +sh -c 'echo routed hello; exit 3'$`, 'm'));
    expect((await grove(['task', 'get', taskId, ...via])).stdout).toMatch(/^AGENT +alpha$/m);
  });

  it('refuses a routed kill with exit 3, then cleans up, restores and applies through the coordinator', async () => {
    const { id, path } = await createOn('a', 'app', 'feat/work');
    writeFileSync(join(path, 'version.txt'), 'v2 routed\n');
    const kill = await grove(['session', 'kill', id, ...via]);
    expect(kill.code).toBe(3);
    expect(kill.stdout).toMatch(/^app +DIRTY_TRACKED +modified tracked files: version.txt$/m);
    expect(kill.stdout).toContain(`session ${id} was not killed on agent alpha; nothing was removed:`);

    expect((await grove(['session', 'cleanup', id, ...via])).stdout).toContain(`cleaned up session ${id} on agent alpha; 1 worktree(s)`);
    expect((await grove(['preserved', 'ls', id, ...via])).stdout).toMatch(new RegExp(`^${id} +app +refs/grove/preserved/${id}/app `, 'm'));
    expect((await grove(['session', 'restore', id, ...via])).stdout).toContain(`restored session ${id} on agent alpha: ACTIVE`);
    expect((await grove(['preserved', 'apply', id, 'app', ...via])).code).toBe(0);
  });

  it("submits a job routed by repo name and waits for it on the coordinator's watch", async () => {
    const submitted = await grove(['job', 'submit', 'sync_repo', '--repo', 'app', ...via]);
    expect(submitted.code).toBe(0);
    const id = /^submitted job (job_\w+) \(sync_repo\) \w+ on agent alpha\n$/.exec(submitted.stdout)?.[1];
    expect(id).toBeDefined();
    const wait = await grove(['job', 'wait', id!, ...via]);
    expect(wait.stderr).toBe('');
    expect(wait.code).toBe(0);
    expect(wait.stdout).toMatch(new RegExp(`^job ${id} SUCCEEDED: fetched from origin`, 'm'));
    const ls = await grove(['job', 'ls', ...via, '--kind', 'sync_repo']);
    expect(ls.stdout).toMatch(new RegExp(`^alpha +${id} +sync_repo +SUCCEEDED +100% +app `, 'm'));

    // A job still running when the wait starts: its end comes from the coordinator's watch.
    const { job } = json<{ job: { id: string } }>(await grove(['job', 'submit', 'sync_repo', '--repo', 'slow', '--json', ...via]));
    const waiting = groveLive(['job', 'wait', job.id, ...via]);
    await waitFor(() => waiting.stdout().includes('10% fetching from origin\n') || undefined, 'the routed wait to show progress');
    writeFileSync(slowGate, '');
    const slow = await waiting.done;
    expect(slow).toMatchObject({ code: 0, stderr: '' });
    expect(slow.stdout).toMatch(new RegExp(`^100% done\njob ${job.id} SUCCEEDED: fetched from origin`, 'm'));
  });

  it('makes per-agent listings name their agent with --on', async () => {
    const missing = await grove(['orphans', 'ls', ...via]);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toBe('grove: orphans ls: orphans belong to one agent; with --coordinator, name it with --on AGENT\n');
    expect((await grove(['orphans', 'ls', ...via, '--on', 'beta'])).code).toBe(0);
    expect(await grove(['sync', 'status', ...via, '--on', 'alpha'])).toMatchObject({ code: 0, stderr: 'no syncs\n' });
    const stash = await grove(['stash', 'drop', 'sta_00000000000000000000000', ...via]);
    expect(stash.code).toBe(1);
    expect(stash.stderr).toMatch(/^grove: INVALID_ARGUMENT \(AGENT_REQUIRED\): /);
    const unknown = await grove(['lock', 'ls', ...via, '--on', 'gamma']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^grove: NOT_FOUND \(AGENT_NOT_FOUND\): /);
  });

  it("redraws a table of every agent's sessions on a terminal while watching", async () => {
    // A session that exists before the watch starts: the first table must show it.
    const before = await createOn('b', 'tools', 'feat/shown');
    const watch = inProcess(['watch', ...via, '--limit', '1'], true);
    await waitFor(() => (watch.out().includes('AGENT') ? true : undefined), 'the first table');
    const first = watch.out();
    expect(first.startsWith('\x1b[H\x1b[2J')).toBe(true);
    expect(first).toMatch(/^AGENT +SESSION +BRANCH +STATE +ACTIVITY$/m);
    expect(first).toMatch(new RegExp(`^beta +${before.id} +feat/shown +ACTIVE +IDLE$`, 'm'));

    const { id } = await createOn('b', 'tools', 'feat/live');
    expect(await watch.done).toBe(0);
    const screens = watch.out().split('\x1b[H\x1b[2J');
    expect(screens.at(-1)).toMatch(new RegExp(`^beta +${id} +feat/live +ACTIVE +IDLE$`, 'm'));
    expect(watch.err()).toBe('');
  });

  it('draws job progress as a bar on a terminal', async () => {
    const { job } = json<{ job: { id: string } }>(
      await grove(['job', 'submit', 'sync_repo', '--repo', 'app', '--json', '--agent', alpha.address]),
    );
    const wait = inProcess(['job', 'wait', job.id, '--agent', alpha.address], true);
    expect(await wait.done).toBe(0);
    // eslint-disable-next-line no-control-regex -- the terminal's own erase-line sequence
    expect(wait.out()).toMatch(/\r\x1b\[K\[#{24}\] 100% done\n/);
    expect(wait.out()).toMatch(new RegExp(`\\njob ${job.id} SUCCEEDED: fetched from origin`));
  });
});
