import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, type ServiceProcess } from './helpers/processes.js';
import { grove, type Run } from './helpers/cli.js';
import { tempDir } from './helpers/temp.js';

// Nothing listens on port 1 of loopback: connections to it are refused at once.
const DEAD_ADDRESS = '127.0.0.1:1';

/** The failure contract: exactly one `grove: ...` line on stderr, no stack, nothing on stdout. */
function expectOneErrorLine(run: Run, code: number, pattern: RegExp) {
  expect(run.code).toBe(code);
  expect(run.stdout).toBe('');
  const lines = run.stderr.split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[1]).toBe('');
  expect(lines[0]).toMatch(/^grove: /);
  expect(lines[0]).toMatch(pattern);
}

describe('grove CLI against a real agent', () => {
  const tmp = tempDir();
  const work = join(tmp.path, 'work');
  let agent: ServiceProcess;
  let target: string[];

  beforeAll(async () => {
    mkdirSync(work);
    agent = await startAgentProcess({ dataDir: join(tmp.path, 'agent') });
    target = ['--agent', agent.address];
  });
  afterAll(async () => {
    await agent?.stop();
    tmp.remove();
  });

  /** Makes a repo under the work directory and adds it to the agent by name. */
  async function addRepo(name: string): Promise<void> {
    makeRepo(join(work, name));
    const run = await grove(['repo', 'add', name, ...target], { cwd: work });
    expect(run).toMatchObject({ code: 0, stderr: '' });
  }

  it('adds a repo given a path relative to its own working directory', async () => {
    const repoPath = makeRepo(join(work, 'alpha'));
    const run = await grove(['repo', 'add', 'alpha', ...target], { cwd: work });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^added repo alpha \\(rep_[0-9a-z]{22}\\) at ${repoPath}\\n$`));

    makeRepo(join(work, 'nested', 'beta'));
    const json = await grove(['repo', 'add', './nested/../nested/beta', '--name', 'b2', '--json', ...target], {
      cwd: work,
    });
    expect(json.code).toBe(0);
    const response = JSON.parse(json.stdout) as { repo: Record<string, string>; revision: number };
    expect(response.repo).toMatchObject({ name: 'b2', path: join(work, 'nested', 'beta'), defaultBranch: 'main' });
    expect(response.revision).toBeGreaterThan(0);
  });

  it('lists repos as an aligned table and as proto3 JSON', async () => {
    makeRepo(join(work, 'gamma-with-a-longer-name'));
    expect((await grove(['repo', 'add', 'gamma-with-a-longer-name', ...target], { cwd: work })).code).toBe(0);

    const json = await grove(['repo', 'ls', '--json', ...target]);
    expect(json.code).toBe(0);
    expect(json.stdout.trimEnd().split('\n')).toHaveLength(1);
    const listed = JSON.parse(json.stdout) as { repos: Array<Record<string, string>>; revision: number };
    const gamma = listed.repos.find((r) => r.name === 'gamma-with-a-longer-name');
    expect(gamma).toMatchObject({ path: join(work, 'gamma-with-a-longer-name'), defaultBranch: 'main' });
    expect(gamma?.id).toMatch(/^rep_/);
    expect(new Date(gamma!.createTime!).toISOString()).toBe(gamma?.createTime);
    expect(listed.revision).toBeGreaterThanOrEqual(listed.repos.length);

    const table = await grove(['repo', 'ls', ...target]);
    expect(table.code).toBe(0);
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^NAME +ID +DEFAULT BRANCH +PATH$/);
    expect(rows).toHaveLength(listed.repos.length);
    for (const repo of listed.repos) {
      const row = rows.find((line) => line.startsWith(`${repo.name} `));
      expect(row).toBeDefined();
      // Every cell starts exactly under its column's heading.
      expect(row!.indexOf(repo.id!)).toBe(header!.indexOf('ID'));
      expect(row!.indexOf(repo.path!)).toBe(header!.indexOf('PATH'));
    }
  });

  it('gets a repo by name or id and removes it', async () => {
    makeRepo(join(work, 'delta'));
    const added = JSON.parse((await grove(['repo', 'add', 'delta', '--json', ...target], { cwd: work })).stdout) as {
      repo: { id: string };
    };

    const byName = await grove(['repo', 'get', 'delta', '--json', ...target]);
    expect(byName.code).toBe(0);
    expect(JSON.parse(byName.stdout)).toMatchObject({ id: added.repo.id, name: 'delta', path: join(work, 'delta') });
    const byId = await grove(['repo', 'get', added.repo.id, ...target]);
    expect(byId.code).toBe(0);
    expect(byId.stdout).toMatch(new RegExp(`^PATH +${join(work, 'delta')}$`, 'm'));

    const removed = await grove(['repo', 'rm', 'delta', ...target]);
    expect(removed).toMatchObject({ code: 0, stdout: 'removed repo delta\n', stderr: '' });
    const gone = await grove(['repo', 'get', 'delta', ...target]);
    expectOneErrorLine(gone, 1, /^grove: NOT_FOUND \(REPO_NOT_FOUND\): no repo "delta" on this agent$/);
  });

  it('reports call errors with their reason on one line, exit 1', async () => {
    const missing = await grove(['repo', 'add', 'no-such-dir', ...target], { cwd: work });
    expectOneErrorLine(missing, 1, /^grove: INVALID_ARGUMENT \(PATH_NOT_FOUND\): repo path .*\/work\/no-such-dir does not exist$/);
    const unreachable = await grove(['repo', 'ls', '--agent', DEAD_ADDRESS]);
    expectOneErrorLine(unreachable, 1, /^grove: UNAVAILABLE: /);
    const noCoordinator = await grove(['agents', 'ls', '--coordinator', DEAD_ADDRESS]);
    expectOneErrorLine(noCoordinator, 1, /^grove: UNAVAILABLE: /);
  });

  it('reports usage errors on one line, exit 2', async () => {
    expectOneErrorLine(await grove(['frobnicate']), 2, /unknown verb "frobnicate"/);
    expectOneErrorLine(await grove(['repo', 'frob']), 2, /unknown verb "repo frob"/);
    expectOneErrorLine(await grove(['repo']), 2, /repo needs a verb: add, ls, get, set, rm/);
    expectOneErrorLine(await grove(['repo', 'add', ...target]), 2, /repo add: missing PATH/);
    expectOneErrorLine(await grove(['repo', 'get', 'a', 'b', ...target]), 2, /unexpected argument "b"/);
    expectOneErrorLine(await grove(['repo', 'ls', '--bogus', ...target]), 2, /Unknown option '--bogus'/);
    expectOneErrorLine(await grove(['watch', '--after', 'soon', ...target]), 2, /--after must be a non-negative integer/);
  });

  it('targets the agent in GROVE_AGENT unless --agent is given', async () => {
    await addRepo('env-target');
    const viaEnv = await grove(['repo', 'ls', '--json'], { env: { GROVE_AGENT: agent.address } });
    expect(viaEnv.code).toBe(0);
    const { repos } = JSON.parse(viaEnv.stdout) as { repos: Array<{ name: string }> };
    expect(repos.length).toBeGreaterThan(0);
    expect(repos.map((r) => r.name)).toContain('env-target');

    const flagWins = await grove(['repo', 'ls', '--json', ...target], { env: { GROVE_AGENT: DEAD_ADDRESS } });
    expect(flagWins.code).toBe(0);
    const envOnly = await grove(['repo', 'ls'], { env: { GROVE_AGENT: DEAD_ADDRESS } });
    expectOneErrorLine(envOnly, 1, /UNAVAILABLE/);
  });

  it('takes target and output flags before the verb too, as kubectl and gh do', async () => {
    await addRepo('flags-first');
    const before = await grove(['--agent', agent.address, '--json', 'repo', 'ls'], { env: { GROVE_AGENT: DEAD_ADDRESS } });
    expect(before.code, before.stderr).toBe(0);
    expect((JSON.parse(before.stdout) as { repos: Array<{ name: string }> }).repos.map((r) => r.name)).toContain('flags-first');
    const inline = await grove([`--agent=${agent.address}`, 'repo', 'get', 'flags-first', '--json']);
    expect(inline.code, inline.stderr).toBe(0);
    expectOneErrorLine(await grove(['--agent']), 2, /--agent needs a value/);
    expectOneErrorLine(await grove(['--bogus', 'repo', 'ls']), 2, /unknown verb "--bogus"/);
  });

  it('streams events as JSON lines and stops after --limit', async () => {
    // This test's own history: an added repo, and one added then removed (the newest event).
    await addRepo('watched');
    await addRepo('watched-gone');
    expect((await grove(['repo', 'rm', 'watched-gone', ...target])).code).toBe(0);
    const { revision } = JSON.parse((await grove(['repo', 'ls', '--json', ...target])).stdout) as { revision: number };
    const run = await grove(['watch', '--json', '--limit', String(revision), ...target]);
    expect(run.code).toBe(0);
    const events = run.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { revision: number; type: string; repo?: { name: string } });
    expect(events.map((e) => e.revision)).toEqual(Array.from({ length: revision }, (_, i) => i + 1));
    expect(events.find((e) => e.repo?.name === 'watched')).toMatchObject({ type: 'repo.added' });
    expect(events.find((e) => e.repo?.name === 'watched-gone' && e.type === 'repo.removed')).toBeDefined();

    const last = await grove(['watch', '--after', String(revision - 1), '--limit', '1', ...target]);
    expect(last.code).toBe(0);
    expect(last.stdout).toMatch(new RegExp(`^ +${revision} {2}\\S+ {2}repo\\.removed +repos/rep_\\w+ \\(deleted\\)\\n$`));
  });

  it('prints help for the whole tool and for each verb', async () => {
    const overview = await grove(['--help']);
    expect(overview.code).toBe(0);
    for (const verb of ['agent serve', 'coordinator serve', 'repo add', 'repo ls', 'agents ls', 'watch', 'version']) {
      expect(overview.stdout).toContain(`  ${verb}`);
    }
    const verb = await grove(['repo', 'add', '--help']);
    expect(verb.code).toBe(0);
    expect(verb.stdout).toMatch(/^Usage: grove repo add PATH \[--name NAME\]/);
    const serve = await grove(['agent', 'serve', '--help']);
    expect(serve.code).toBe(0);
    expect(serve.stdout).toContain('--data-dir DIR');
  });
});

describe('grove CLI with a token', () => {
  const tmp = tempDir();
  const tokenFile = join(tmp.path, 'token');
  let agent: ServiceProcess;

  beforeAll(async () => {
    writeFileSync(tokenFile, 'cli-token\n');
    agent = await startAgentProcess({ dataDir: join(tmp.path, 'agent'), extraArgs: ['--token-file', tokenFile] });
  });
  afterAll(async () => {
    await agent?.stop();
    tmp.remove();
  });

  it('sends the token from --token-file', async () => {
    const without = await grove(['repo', 'ls', '--agent', agent.address]);
    expectOneErrorLine(without, 1, /^grove: UNAUTHENTICATED \(MISSING_TOKEN\): /);
    const withToken = await grove(['repo', 'ls', '--json', '--agent', agent.address, '--token-file', tokenFile]);
    expect(withToken).toMatchObject({ code: 0, stderr: '' });
    // proto3 JSON leaves out an empty list.
    expect(JSON.parse(withToken.stdout)).not.toHaveProperty('repos');
  });
});
