import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepo } from './helpers/git-repo.js';
import { REPO_ROOT, startAgentProcess, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

const run = promisify(execFile);
const SDK_DIR = join(REPO_ROOT, 'clients/sdk');
const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

/** Runs a command and answers its exit code and output; never rejects. */
async function attempt(file: string, args: string[], cwd: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd, timeout: 180_000, maxBuffer: 16 << 20 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, out: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

// A project outside the repository, the way a user's would be: it installs the packed SDK
// tarball (its dependencies come from npm's cache, filled by this repo's own install),
// type-checks against the SDK's declarations and calls a real agent.
const USER_PROGRAM = `
import { createAgentClient, GroveClientError, isGroveReason, Status, type GroveReason } from '@grove/sdk';
import { SessionState, type Repo } from '@grove/sdk/proto/agent/v1/resources.js';

const [address, repoPath] = process.argv.slice(2) as [string, string];
const client = createAgentClient({ address });
const info = await client.getAgentInfo({});
const added = await client.addRepo({ path: repoPath, name: 'app' });
const repo: Repo | undefined = added.repo;
let reason: string = '';
let code: Status | undefined;
try {
  await client.getRepo({ id: 'no-such-repo' });
} catch (err) {
  if (err instanceof GroveClientError) {
    if (isGroveReason(err.reason)) reason = err.reason satisfies GroveReason;
    code = err.code;
  }
}
client.close();
console.log(JSON.stringify({ agentId: info.id, repoName: repo?.name, reason, notFound: code === Status.NOT_FOUND, active: SessionState.SESSION_STATE_ACTIVE }));
`;

// Types that are real catch a misspelt field: this program must not compile.
const MISTYPED_PROGRAM = `
import { createAgentClient } from '@grove/sdk';
const client = createAgentClient({ address: '127.0.0.1:1' });
await client.getRepo({ repoId: 'x' });
`;

describe('the SDK as a package a project outside the repo installs', () => {
  const tmp = tempDir('grove-sdk-pack-');
  let agent: ServiceProcess;
  let project: string;

  beforeAll(async () => {
    const [started, packed] = await Promise.all([
      startAgentProcess({ dataDir: join(tmp.path, 'agent') }),
      attempt('npm', ['pack', '--json', '--pack-destination', tmp.path], SDK_DIR),
    ]);
    agent = started;
    expect(packed.code, packed.out).toBe(0);
    const tarball = readdirSync(tmp.path).find((name) => name.endsWith('.tgz'));
    expect(tarball).toBeDefined();

    project = join(tmp.path, 'user-project');
    mkdirSync(join(project, 'src'), { recursive: true });
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'user-project', private: true, type: 'module', dependencies: { '@grove/sdk': `file:../${tarball}` } }),
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          outDir: 'out',
          types: [],
          skipLibCheck: true,
        },
        include: ['src/main.ts'],
      }),
    );
    writeFileSync(join(project, 'src/main.ts'), USER_PROGRAM);
    writeFileSync(join(project, 'src/mistyped.ts'), MISTYPED_PROGRAM);
    writeFileSync(join(project, 'tsconfig.mistyped.json'), JSON.stringify({ extends: './tsconfig.json', include: ['src/mistyped.ts'] }));
    const installed = await attempt('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], project);
    expect(installed.code, installed.out).toBe(0);
  });
  afterAll(async () => {
    await agent?.stop();
    tmp.remove();
  });

  it('ships the SDK, its generated messages and the wire contract, and no server code', async () => {
    const listing = await attempt(
      'tar',
      [
        '-tzf',
        join(
          tmp.path,
          readdirSync(tmp.path).find((n) => n.endsWith('.tgz'))!,
        ),
      ],
      tmp.path,
    );
    const files = listing.out.split('\n').filter(Boolean);
    expect(files).toContain('package/dist/clients/sdk/index.d.ts');
    expect(files).toContain('package/dist/gen/grove/agent/v1/resources.d.ts');
    expect(files).toContain('package/dist/wire/reasons.js');
    expect(files.filter((f) => f.includes('/services/') || f.endsWith('.test.js') || f.endsWith('.ts.map'))).toEqual([]);
  });

  it('type-checks a user program, runs it against a real agent, and rejects a misspelt field', async () => {
    const compiled = await attempt(process.execPath, [TSC, '-p', 'tsconfig.json'], project);
    expect(compiled.code, compiled.out).toBe(0);

    const repoPath = makeRepo(join(tmp.path, 'app'));
    const ran = await attempt(process.execPath, [join(project, 'out/main.js'), agent.address, repoPath], project);
    expect(ran.code, ran.out).toBe(0);
    const result = JSON.parse(ran.out.trim()) as Record<string, unknown>;
    expect(result).toEqual({ agentId: expect.stringMatching(/.+/), repoName: 'app', reason: 'REPO_NOT_FOUND', notFound: true, active: 1 });

    const rejected = await attempt(process.execPath, [TSC, '--noEmit', '-p', 'tsconfig.mistyped.json'], project);
    expect(rejected.code).not.toBe(0);
    expect(rejected.out).toMatch(/repoId.*does not exist in type/);
  });
});
