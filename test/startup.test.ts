import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentClient } from './helpers/grpc.js';
import { makeRepo } from './helpers/git-repo.js';
import { AGENT_MAIN, CLI, COORDINATOR_MAIN, startAgentProcess, startCoordinatorProcess } from './helpers/processes.js';
import { freePort as freeLoopbackPort } from './helpers/free-port.js';
import { tempDir } from './helpers/temp.js';

/** Runs an entry point to its end; a service that cannot start must exit by itself. */
function runToExit(main: string, args: string[]): Promise<{ code: number | null; lastLine: string }> {
  return new Promise((resolve) => {
    // A service that does not exit by itself is the failure under test: it is ended, not awaited.
    const child = spawn(process.execPath, [main, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, GROVE_LOG_LEVEL: 'error' },
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => {
      const lines = stderr.trim().split('\n');
      resolve({ code, lastLine: lines[lines.length - 1] ?? '' });
    });
  });
}

describe('a service that cannot start says why in one line and exits', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it("refuses a second agent on a live agent's data directory; a crash releases it", async () => {
    const dataDir = join(tmp.path, 'shared');
    const first = await startAgentProcess({ dataDir, extraArgs: ['--worktree-root', join(tmp.path, 'wt')] });
    try {
      const second = await runToExit(AGENT_MAIN, ['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
      expect(second.code).toBe(1);
      expect(second.lastLine).toBe(
        `grove agent: the data directory ${dataDir} is in use by another agent process (pid ${first.child.pid}); stop it, or give this one its own --data-dir`,
      );
      const { client, channel } = agentClient(first.address);
      expect((await client.getAgentInfo({})).id).toMatch(/^agt_/); // the first one is untouched
      channel.close();
    } finally {
      await first.kill();
    }
    const again = await startAgentProcess({ dataDir, extraArgs: ['--worktree-root', join(tmp.path, 'wt')] });
    await again.stop();
  });

  it("refuses a second coordinator on a live one's data directory", async () => {
    const dataDir = join(tmp.path, 'coord');
    const first = await startCoordinatorProcess({ dataDir });
    try {
      const second = await runToExit(COORDINATOR_MAIN, ['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
      expect(second.code).toBe(1);
      expect(second.lastLine).toMatch(/^grove coordinator: the data directory .* is in use by another coordinator process/);
    } finally {
      await first.stop();
    }
  });

  it('a port in use: exit 1 naming the address', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const result = await runToExit(AGENT_MAIN, ['--listen', `127.0.0.1:${port}`, '--data-dir', join(tmp.path, 'port')]);
      expect(result.code).toBe(1);
      expect(result.lastLine).toBe(`grove agent: cannot listen on 127.0.0.1:${port}: the address is already in use`);
    } finally {
      server.close();
    }
  });

  it('a database that is not one: exit 1 naming the file', async () => {
    const dataDir = join(tmp.path, 'garbage');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'agent.sqlite'), 'this is not a database, but it is long enough to be read as a header.\n'.repeat(100));
    const result = await runToExit(AGENT_MAIN, ['--listen', '127.0.0.1:0', '--data-dir', dataDir]);
    expect(result.code).toBe(1);
    expect(result.lastLine).toMatch(
      new RegExp(
        `^grove agent: cannot open the database ${join(dataDir, 'agent.sqlite').replace(/[/.]/g, '\\$&')}: it is not a SQLite database`,
      ),
    );
  });

  it('a --db that is not a postgresql:// URL is a usage error; an unreachable one exits 1 without its password', async () => {
    const dataDir = join(tmp.path, 'db-flag');
    const wrong = await runToExit(COORDINATOR_MAIN, ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--db', 'mysql://x/y']);
    expect(wrong.code).toBe(2);
    expect(wrong.lastLine).toMatch(/--db takes a postgresql:\/\/ URL, not "mysql:\/\/x\/y"/);
    const closed = await freeLoopbackPort();
    const url = `postgresql://grove:hunter2@127.0.0.1:${closed}/grove`;
    const away = await runToExit(COORDINATOR_MAIN, ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--no-http', '--db', url]);
    expect(away.code).toBe(1);
    expect(away.lastLine).toMatch(
      new RegExp(`^grove coordinator: cannot open the database postgresql://grove:\\*\\*\\*@127.0.0.1:${closed}/grove: `),
    );
    expect(away.lastLine).not.toContain('hunter2');
  });

  it.each([
    [['--task-retention', '0'], /--task-retention must be a positive integer/],
    [['--heartbeat', 'soon'], /invalid duration "soon"/],
    [['--no-such-flag'], /--no-such-flag/],
    [['--tls-cert', '/x'], /--tls-cert and --tls-key go together/],
    [['--token-file', '/nonexistent/token'], /token/],
  ])('bad flags %j: exit 2, as a usage error', async (flags, message) => {
    const direct = await runToExit(AGENT_MAIN, ['--listen', '127.0.0.1:0', '--data-dir', join(tmp.path, 'flags'), ...flags]);
    expect(direct.code).toBe(2);
    expect(direct.lastLine).toMatch(message);
    const viaCli = await runToExit(CLI, ['agent', 'serve', '--listen', '127.0.0.1:0', '--data-dir', join(tmp.path, 'flags'), ...flags]);
    expect(viaCli.code).toBe(2);
    expect(viaCli.lastLine).toMatch(message);
  });
});

describe('a lost database', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('is refused while Grove worktrees it does not know sit under the root; accepted, they are orphans, untouched', async () => {
    const dataDir = join(tmp.path, 'agent');
    const root = join(tmp.path, 'wt');
    const args = ['--worktree-root', root];
    const agent = await startAgentProcess({ dataDir, extraArgs: args });
    const { client, channel } = agentClient(agent.address);
    const repoPath = makeRepo(join(tmp.path, 'repo'));
    const repo = (await client.addRepo({ path: repoPath, name: 'repo', keepIgnored: [] })).repo!;
    const session = (await client.createSession({ repoIds: [repo.id], branch: 'kept', base: '', title: '', labels: {}, requestId: '' }))
      .session!;
    const wt = session.worktrees[0]!.path;
    writeFileSync(join(wt, 'work.txt'), 'uncommitted\n');
    channel.close();
    await agent.stop();
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(dataDir, `agent.sqlite${suffix}`), { force: true });

    const refused = await runToExit(AGENT_MAIN, ['--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args]);
    expect(refused.code).toBe(1);
    expect(refused.lastLine).toMatch(
      new RegExp(`holds 1 Grove worktree\\(s\\) \\(${session.id}/repo\\) that the database .* has no record of`),
    );
    expect(refused.lastLine).toMatch(/--accept-unknown-worktrees/);
    expect(readFileSync(join(wt, 'work.txt'), 'utf8')).toBe('uncommitted\n');

    const accepted = await startAgentProcess({ dataDir, extraArgs: [...args, '--accept-unknown-worktrees'] });
    const again = agentClient(accepted.address);
    try {
      const { orphans } = await again.client.listOrphans({});
      expect(orphans.map((o) => o.path)).toContain(join(root, session.id));
      expect(readFileSync(join(wt, 'work.txt'), 'utf8')).toBe('uncommitted\n');
    } finally {
      again.channel.close();
      await accepted.stop();
    }
  });
});
