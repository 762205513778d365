import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitAll, gitSync, makeRepo, writeFiles } from './helpers/git-repo.js';
import { startAgentProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { grove, groveLive, json } from './helpers/cli.js';
import { tempDir } from './helpers/temp.js';

/**
 * A command that waits for `gate` to exist, then prints and exits. Bounded, so a test that
 * fails before opening the gate leaves no process behind for long.
 */
const gated = (gate: string, then = 'echo through the gate') => [
  'sh',
  '-c',
  `echo waiting; for i in $(seq 1 1000); do [ -f '${gate}' ] && break; sleep 0.02; done; ${then}`,
];

/**
 * A remote whose fetch waits for `gate` (bounded, so nothing outlives a failed test for
 * long): git's ext transport runs this script in place of a connection.
 */
function gatedRemote(gate: string, origin: string): string {
  const script = `i=0; until [ -f ${gate} ] || [ $i -gt 400 ]; do i=$((i+1)); sleep 0.05; done; exec git-upload-pack ${origin}`;
  return `ext::sh -c ${script.replaceAll('%', '%%').replaceAll(' ', '% ')}`;
}

describe('grove task, job, sync, stash and lock verbs against a real agent', () => {
  const tmp = tempDir();
  const work = join(tmp.path, 'work');
  let agent: ServiceProcess;
  let target: string[];
  let session = '';
  let worktree = '';
  let gates = 0;
  const newGate = () => join(tmp.path, `gate-${++gates}`);
  const slowGate = join(tmp.path, 'slow-gate');

  beforeAll(async () => {
    mkdirSync(work);
    // A long probe interval: the sync test drives sync with `sync flush`, deterministically.
    agent = await startAgentProcess({
      dataDir: join(tmp.path, 'agent'),
      extraArgs: ['--worktree-root', join(tmp.path, 'wt'), '--sync-probe', '1h', '--cancel-grace', '200ms'],
    });
    target = ['--agent', agent.address];
    makeRepo(join(work, 'app'), { 'README.md': '# app\n', 'version.txt': 'v1\n' });
    // A bare "origin" the app can fetch from.
    gitSync(tmp.path, 'clone', '--quiet', '--bare', join(work, 'app'), join(tmp.path, 'origin.git'));
    gitSync(join(work, 'app'), 'remote', 'add', 'origin', join(tmp.path, 'origin.git'));
    gitSync(join(work, 'app'), 'fetch', '--quiet', 'origin');
    makeRepo(join(work, 'solo'));
    makeRepo(join(work, 'slow'));
    gitSync(join(work, 'slow'), 'config', 'protocol.ext.allow', 'always');
    gitSync(join(work, 'slow'), 'remote', 'add', 'origin', gatedRemote(slowGate, join(tmp.path, 'origin.git')));
    for (const name of ['app', 'solo', 'slow']) expect((await grove(['repo', 'add', name, ...target], { cwd: work })).code).toBe(0);
    const created = json<{ session: { id: string; worktrees: Array<{ path: string }> } }>(
      await grove(['session', 'create', '--repo', 'app', '--branch', 'feat/tasks', '--json', ...target]),
    );
    session = created.session.id;
    worktree = created.session.worktrees[0]!.path;
  });
  afterAll(async () => {
    // Lets a fetch still waiting at the gate finish before its directory goes away.
    writeFileSync(slowGate, '');
    await agent?.stop();
    tmp.remove();
  });

  async function taskState(id: string): Promise<string> {
    return json<{ state: string }>(await grove(['task', 'get', id, '--json', ...target])).state;
  }

  it('runs a task with --wait: its output on stdout, notes on stderr, exit 0', async () => {
    const run = await grove([
      'task',
      'run',
      session,
      '--wait',
      ...target,
      '--',
      'sh',
      '-c',
      'echo hello from the task; pwd; echo to stderr >&2',
    ]);
    expect(run.code).toBe(0);
    // The task's own stderr is in its log too: the log is one stream.
    expect(run.stdout).toBe(`hello from the task\n${worktree}\nto stderr\n`);
    const notes = run.stderr.trimEnd().split('\n');
    expect(notes[0]).toMatch(new RegExp(`^task (tsk_\\w+) (QUEUED|RUNNING) in session ${session}$`));
    expect(notes[1]).toMatch(/^task tsk_\w+ SUCCEEDED$/);
  });

  it("exits with the task's exit status: its code, 128+signal, and the final task as --json", async () => {
    const failed = await grove([
      'task',
      'run',
      session,
      '--wait',
      '--env',
      'CODE=7',
      ...target,
      '--',
      'sh',
      '-c',
      'echo failing; exit $CODE',
    ]);
    expect(failed.code).toBe(7);
    expect(failed.stdout).toBe('failing\n');
    expect(failed.stderr).toMatch(/^grove: task tsk_\w+ FAILED: exited with code 7$/m);

    const killed = await grove(['task', 'run', session, '--wait', '--json', ...target, '--', 'sh', '-c', 'kill -9 $$']);
    expect(killed.code).toBe(128 + 9);
    const task = JSON.parse(killed.stdout) as { state: string; exitSignal: string; reason: string };
    expect(task).toMatchObject({ state: 'TASK_STATE_FAILED', exitSignal: 'SIGKILL', reason: 'killed by SIGKILL' });
    expect(killed.stderr).toMatch(/^grove: task tsk_\w+ FAILED: killed by SIGKILL\n$/);
  });

  it('exits 130 when the task it waits for is cancelled', async () => {
    const gate = newGate();
    const waiting = grove(['task', 'run', session, '--wait', ...target, '--', ...gated(gate)]);
    const id = await waitFor(async () => {
      const { tasks = [] } = json<{ tasks?: Array<{ id: string; state: string }> }>(
        await grove(['task', 'ls', session, '--state', 'running', '--json', ...target]),
      );
      return tasks[0]?.id;
    }, 'the gated task to run');
    const cancel = await grove(['task', 'cancel', id, ...target]);
    expect(cancel).toMatchObject({ code: 0, stderr: '' });
    expect(cancel.stdout).toMatch(new RegExp(`^(cancelling task ${id}: SIGTERM sent|task ${id} CANCELLED)\\n$`));
    const run = await waiting;
    expect(run.code).toBe(130);
    expect(run.stdout).toBe('waiting\n');
    expect(run.stderr).toMatch(new RegExp(`^grove: task ${id} CANCELLED: cancelled on request$`, 'm'));
  });

  it('prints logs so far, follows them to the end, and lists and shows tasks', async () => {
    // A task that ends by a signal, for the listing to show with the others.
    expect((await grove(['task', 'run', session, '--wait', ...target, '--', 'sh', '-c', 'kill -9 $$'])).code).toBe(128 + 9);
    const gate = newGate();
    const started = json<{ task: { id: string } }>(
      await grove(['task', 'run', session, '--json', '--prompt', 'write the gate test', ...target, '--', ...gated(gate, 'seq 1 3')]),
    );
    const id = started.task.id;
    await waitFor(async () => (await grove(['task', 'logs', id, ...target])).stdout === 'waiting\n' || undefined, 'the first line');

    const following = grove(['task', 'logs', id, '--follow', ...target]);
    const locks = await grove(['lock', 'ls', ...target]);
    expect(locks.code).toBe(0);
    expect(locks.stdout).toMatch(new RegExp(`^${worktree} +\\d+ +session ${session} .*\\d+s ago$`, 'm'));
    const refused = await grove(['lock', 'release', worktree, ...target]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^grove: FAILED_PRECONDITION \(HOLDER_ALIVE\): /);

    writeFileSync(gate, '');
    const followed = await following;
    expect(followed).toMatchObject({ code: 0, stderr: '', stdout: 'waiting\n1\n2\n3\n' });
    expect(await taskState(id)).toBe('TASK_STATE_SUCCEEDED');
    expect((await grove(['task', 'logs', id, ...target])).stdout).toBe('waiting\n1\n2\n3\n');
    const chunks = (await grove(['task', 'logs', id, '--json', ...target])).stdout.trimEnd().split('\n');
    const bytes = Buffer.concat(chunks.map((line) => Buffer.from((JSON.parse(line) as { data: string }).data, 'base64')));
    expect(bytes.toString()).toBe('waiting\n1\n2\n3\n');

    const get = await grove(['task', 'get', id, ...target]);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/^STATE +SUCCEEDED$/m);
    expect(get.stdout).toMatch(/^PROMPT +write the gate test$/m);
    expect(get.stdout).toMatch(/^EXIT +0$/m);

    const ls = await grove(['task', 'ls', session, ...target]);
    expect(ls.code).toBe(0);
    const [header, ...rows] = ls.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID +SESSION +SEQ +STATE +EXIT +ARGV$/);
    expect(rows.find((row) => row.startsWith(id))).toMatch(/ SUCCEEDED +0 +sh -c 'echo waiting; .*seq 1 3'$/);
    expect(rows.some((row) => / FAILED +SIGKILL +sh -c 'kill -9 \$\$'$/.test(row))).toBe(true);
  });

  it('submits a fetch job and waits for it: progress lines, exit 0; a failed job exits 1', async () => {
    // A teammate's push, for the fetch to bring.
    const teammate = join(tmp.path, 'teammate');
    gitSync(tmp.path, 'clone', '--quiet', join(tmp.path, 'origin.git'), teammate);
    writeFiles(teammate, { 'ci.txt': 'ci\n' });
    commitAll(teammate, 'teammate work');
    gitSync(teammate, 'push', '--quiet', 'origin', 'main');

    const submitted = await grove(['job', 'submit', 'sync_repo', '--repo', 'app', '--key', 'fetch-1', ...target]);
    expect(submitted.code).toBe(0);
    const id = /^submitted job (job_\w+) \(sync_repo\) (QUEUED|RUNNING|SUCCEEDED)\n$/.exec(submitted.stdout)?.[1];
    expect(id).toBeDefined();
    const wait = await grove(['job', 'wait', id!, ...target]);
    expect(wait.stderr).toBe('');
    expect(wait.code).toBe(0);
    const lines = wait.stdout.trimEnd().split('\n');
    expect(lines.at(-2)).toBe('100% done');
    expect(lines.at(-1)).toMatch(new RegExp(`^job ${id} SUCCEEDED: fetched from origin: \\d+ update\\(s\\)$`));
    expect(lines.slice(0, -1).every((line) => /^\d{1,3}% \S/.test(line))).toBe(true);
    expect(gitSync(join(work, 'app'), 'log', '--oneline', '-1', 'origin/main')).toMatch(/teammate work/);

    // The same key answers the same job; --json wait prints the job, one line per change.
    const again = json<{ job: { id: string } }>(
      await grove(['job', 'submit', 'sync_repo', '--repo', 'app', '--key', 'fetch-1', '--json', ...target]),
    );
    expect(again.job.id).toBe(id);
    const jsonWait = await grove(['job', 'wait', id!, '--json', ...target]);
    expect(jsonWait.code).toBe(0);
    expect(JSON.parse(jsonWait.stdout.trimEnd().split('\n').at(-1)!)).toMatchObject({ id, state: 'JOB_STATE_SUCCEEDED' });

    const failing = json<{ job: { id: string } }>(await grove(['job', 'submit', 'sync_repo', '--repo', 'solo', '--json', ...target]));
    const failed = await grove(['job', 'wait', failing.job.id, ...target]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe(`grove: job ${failing.job.id} FAILED: repo "solo" has no remote to fetch from\n`);

    const ls = await grove(['job', 'ls', '--kind', 'sync_repo', ...target]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^ID +KIND +STATE +PROGRESS +REPO +BRANCH +MESSAGE$/m);
    expect(ls.stdout).toMatch(new RegExp(`^${id} +sync_repo +SUCCEEDED +100% +app +- +fetched from origin`, 'm'));
    expect(ls.stdout).toMatch(new RegExp(`^${failing.job.id} +sync_repo +FAILED +0% +solo +- +repo "solo" has no remote`, 'm'));
    const onlyFailed = json<{ jobs: Array<{ id: string }> }>(await grove(['job', 'ls', '--state', 'failed', '--json', ...target]));
    expect(onlyFailed.jobs.map((j) => j.id)).toEqual([failing.job.id]);
    expect((await grove(['job', 'get', id!, ...target])).stdout).toMatch(/^RESULT +fetched from origin: /m);
    expect((await grove(['job', 'submit', 'frobnicate', ...target])).stderr).toMatch(
      /^grove: KIND must be one of sync_repo, register_branch, /,
    );
  });

  it('follows a slow job through its progress, and exits 1 for a cancelled one', async () => {
    const { job } = json<{ job: { id: string } }>(await grove(['job', 'submit', 'sync_repo', '--repo', 'slow', '--json', ...target]));
    const waiting = groveLive(['job', 'wait', job.id, ...target]);
    // Progress appears while the job runs, not only at its end.
    await waitFor(() => waiting.stdout().includes('10% fetching from origin\n') || undefined, 'progress while the fetch waits');
    writeFileSync(slowGate, '');
    const wait = await waiting.done;
    expect(wait).toMatchObject({ code: 0, stderr: '' });
    const lines = wait.stdout.trimEnd().split('\n');
    expect(lines).toContain('10% fetching from origin');
    expect(lines.slice(-2)).toEqual(['100% done', expect.stringMatching(new RegExp(`^job ${job.id} SUCCEEDED: fetched from origin: `))]);

    rmSync(slowGate);
    const { job: doomed } = json<{ job: { id: string } }>(
      await grove(['job', 'submit', 'sync_repo', '--repo', 'slow', '--json', ...target]),
    );
    const doomedWait = grove(['job', 'wait', doomed.id, ...target]);
    await waitFor(async () => {
      const seen = json<{ state: string }>(await grove(['job', 'get', doomed.id, '--json', ...target]));
      return seen.state === 'JOB_STATE_RUNNING' || undefined;
    }, 'the second fetch to run');
    const cancel = await grove(['job', 'cancel', doomed.id, ...target]);
    expect(cancel).toMatchObject({ code: 0, stderr: '' });
    const cancelled = await doomedWait;
    expect(cancelled.code).toBe(1);
    expect(cancelled.stderr).toBe(`grove: job ${doomed.id} CANCELLED\n`);
  });

  it('rebases a session branch in a job after its base moved', async () => {
    // A session of its own: its branch holds exactly the one commit made here.
    const created = json<{ session: { worktrees: Array<{ path: string }> } }>(
      await grove(['session', 'create', '--repo', 'app', '--branch', 'feat/rebase', '--json', ...target]),
    );
    const branchWorktree = created.session.worktrees[0]!.path;
    writeFiles(join(work, 'app'), { 'main.txt': 'main moves on\n' });
    const moved = commitAll(join(work, 'app'), 'main moves on');
    writeFiles(branchWorktree, { 'feature.txt': 'feature\n' });
    commitAll(branchWorktree, 'feature work');
    const submitted = json<{ job: { id: string } }>(
      await grove(['job', 'submit', 'rebase_branch', '--repo', 'app', '--branch', 'feat/rebase', '--base', 'main', '--json', ...target]),
    );
    const wait = await grove(['job', 'wait', submitted.job.id, ...target]);
    expect(wait.code).toBe(0);
    expect(wait.stdout).toMatch(/SUCCEEDED: rebased feat\/rebase onto main: now at [0-9a-f]{12}\n$/);
    expect(gitSync(branchWorktree, 'rev-parse', 'HEAD~1').trim()).toBe(moved);
  });

  it('syncs the checkout: stash on start, flush brings commits, pauses mid-rebase, stop restores the stash', async () => {
    const checkout = join(work, 'app');
    writeFileSync(join(checkout, 'notes.txt'), 'my notes\n');
    const start = await grove(['sync', 'start', session, ...target]);
    expect(start.stderr).toBe('');
    expect(start.code).toBe(0);
    expect(start.stdout).toContain(`app now follows session ${session} on grove/sync/${session}\n`);
    const stash = /stashed as (sta_\w+)/.exec(start.stdout)?.[1];
    expect(stash).toBeDefined();
    expect(start.stdout).toMatch(new RegExp(`^app +${session} +SYNCING +-$`, 'm'));

    const stashes = await grove(['stash', 'ls', 'app', ...target]);
    expect(stashes.stdout).toMatch(/^ID +REPO +REF +COMMIT +REF MISSING +CREATED$/m);
    expect(stashes.stdout).toMatch(new RegExp(`^${stash} +app +refs/grove/stash/${stash} +[0-9a-f]{12} +no +\\S+$`, 'm'));

    writeFiles(worktree, { 'synced.txt': 'from the session\n' });
    const commit = commitAll(worktree, 'session commit');
    const flush = await grove(['sync', 'flush', 'app', ...target]);
    expect(flush.code).toBe(0);
    expect(flush.stdout).toMatch(new RegExp(`^app +${session} +SYNCING +-$`, 'm'));
    expect(gitSync(checkout, 'rev-parse', 'HEAD').trim()).toBe(commit);

    gitSync(checkout, '-c', 'sequence.editor=sed -i 1ibreak', 'rebase', '-i', '--quiet', 'HEAD~1');
    const paused = await grove(['sync', 'flush', 'app', ...target]);
    expect(paused.stdout).toMatch(
      new RegExp(`^app +${session} +PAUSED +a rebase is in progress in ${checkout}: .*git rebase --abort`, 'm'),
    );
    const status = json<{ syncs: Array<{ state: string; causes: string[] }> }>(await grove(['sync', 'status', '--json', ...target]));
    expect(status.syncs[0]).toMatchObject({ state: 'SYNC_STATE_PAUSED' });
    expect(status.syncs[0]!.causes.join(' ')).toMatch(/a rebase is in progress/);
    gitSync(checkout, 'rebase', '--abort');
    expect((await grove(['sync', 'flush', 'app', ...target])).stdout).toMatch(/ SYNCING +-$/m);
    expect((await grove(['sync', 'status', ...target])).stdout).toMatch(/^REPO +SESSION +STATE +CAUSES$/m);

    const stop = await grove(['sync', 'stop', 'app', '--restore-stash', ...target]);
    expect(stop).toMatchObject({ code: 0, stderr: '' });
    expect(stop.stdout).toBe(`stopped syncing app\nstash ${stash} applied and dropped\n`);
    expect(readFileSync(join(checkout, 'notes.txt'), 'utf8')).toBe('my notes\n');
    expect(gitSync(checkout, 'rev-parse', '--abbrev-ref', 'HEAD').trim()).toBe('main');
    expect(await grove(['stash', 'ls', ...target])).toMatchObject({ code: 0, stdout: '', stderr: 'no stashes\n' });
    const notSyncing = await grove(['sync', 'flush', 'app', ...target]);
    expect(notSyncing.code).toBe(1);
    expect(notSyncing.stderr).toBe('grove: FAILED_PRECONDITION (NOT_SYNCING): app is not syncing\n');

    // A stash left by a plain stop is applied by hand, kept until dropped.
    const again = await grove(['sync', 'start', session, '--json', ...target]);
    const kept = json<{ sync: { stashId: string } }>(again).sync.stashId;
    expect(kept).toMatch(/^sta_/);
    expect((await grove(['sync', 'stop', 'app', ...target])).stdout).toBe('stopped syncing app\n');
    const applied = await grove(['stash', 'apply', kept, ...target]);
    expect(applied).toMatchObject({ code: 0, stderr: '', stdout: `applied stash ${kept}; it is kept until 'grove stash drop ${kept}'\n` });
    expect(readFileSync(join(checkout, 'notes.txt'), 'utf8')).toBe('my notes\n');
    expect(await grove(['stash', 'drop', kept, ...target])).toMatchObject({ code: 0, stdout: `dropped stash ${kept}\n` });
    expect((await grove(['stash', 'ls', '--json', ...target])).stdout).toBe('{}\n');
  });
});
