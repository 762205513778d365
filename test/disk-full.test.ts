import { execFileSync } from 'node:child_process';
import { mkdirSync, openSync, closeSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Status, type Channel } from 'nice-grpc';
import sqlite3 from 'sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import { TaskState } from '../gen/grove/agent/v1/resources.js';
import { waitForFile } from './helpers/fixtures.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient, expectStatus } from './helpers/grpc.js';
import { startAgentProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

/** Fills the file system holding `dir` until it has no room left. */
function fill(dir: string): string {
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (let i = 0; i < 100_000; i++) writeSync(fd, block);
  } catch {
    // ENOSPC: full
  }
  for (;;) {
    try {
      writeSync(fd, Buffer.alloc(512, 1)); // the last partial blocks
    } catch {
      break;
    }
  }
  closeSync(fd);
  return filler;
}

function integrityCheck(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (openErr) => {
      if (openErr) return reject(openErr);
      db.get('PRAGMA integrity_check', (err, row: Record<string, string>) =>
        db.close(() => (err ? reject(err) : resolve(Object.values(row)[0]!))),
      );
    });
  });
}

// The data directory and the worktree root sit on a small tmpfs of the test's own (root can
// mount one here; where it cannot, the test says so and does not run).
let mountable = true;
const tmp = tempDir();
const disk = join(tmp.path, 'disk');
try {
  mkdirSync(disk, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', disk], { stdio: 'ignore' });
} catch {
  mountable = false;
  process.stderr.write('disk-full test not run: cannot mount a tmpfs here (needs root)\n');
}

describe.runIf(mountable)('a full disk', () => {
  let agent: ServiceProcess;
  let channel: Channel;
  let client: AgentServiceClient;

  beforeAll(async () => {
    agent = await startAgentProcess({ dataDir: join(disk, 'agent'), extraArgs: ['--worktree-root', join(disk, 'wt')] });
    ({ client, channel } = agentClient(agent.address));
  });
  afterAll(async () => {
    channel?.close();
    await agent?.stop();
    execFileSync('umount', ['-l', disk]);
    tmp.remove();
  });

  it('writes fail with RESOURCE_EXHAUSTED, reads go on, no exit status is lost, and it recovers', async () => {
    const repo = (await client.addRepo({ path: makeRepo(join(tmp.path, 'repo')), name: 'repo', keepIgnored: [] })).repo!;
    const session = (await client.createSession({ repoIds: [repo.id], branch: 'b', base: '', title: '', labels: {}, requestId: '' }))
      .session!;
    const gate = join(tmp.path, 'go'); // on the ordinary disk: the full one takes no new file
    const task = (
      await client.startTask({
        sessionId: session.id,
        argv: ['sh', '-c', `echo started; ${waitForFile(gate)}; echo finished; exit 7`],
        prompt: '',
        env: {},
        repoId: '',
        requestId: '',
      })
    ).task!;
    // Its output proves the command runs (and so that its runner has taken its room) before the disk fills.
    await waitFor(
      async () => ((await client.readTaskLog({ id: task.id, offset: 0, limit: 100 })).data.toString() === 'started\n' ? true : undefined),
      'the task to run',
    );

    const filler = fill(disk);
    writeFileSync(gate, ''); // the task ends while the disk is full
    const refused = await expectStatus(
      client.addRepo({ path: makeRepo(join(tmp.path, 'other')), name: 'other', keepIgnored: [] }),
      Status.RESOURCE_EXHAUSTED,
    );
    expect(refused.details).toMatch(/full|no space/i);
    expect(refused.details).not.toMatch(/SQLITE|insert/i);
    await expectStatus(
      client.createSession({ repoIds: [repo.id], branch: 'c', base: '', title: '', labels: {}, requestId: '' }),
      Status.RESOURCE_EXHAUSTED,
      /no space|full/i,
    );
    // Reads keep working on a full disk.
    expect((await client.listSessions({ pageSize: 10, pageToken: '', state: 0, repoId: '', labelSelector: '' })).sessions).toHaveLength(1);
    expect((await client.getTask({ id: task.id })).id).toBe(task.id);

    rmSync(filler);
    const ended = await waitFor(async () => {
      const t = await client.getTask({ id: task.id });
      return t.state === TaskState.TASK_STATE_RUNNING ? undefined : t;
    }, 'the task to be finalised once there is room');
    expect(ended, ended.reason).toMatchObject({ state: TaskState.TASK_STATE_FAILED, exitCode: 7 });
    expect(await integrityCheck(join(disk, 'agent', 'agent.sqlite'))).toBe('ok');
    expect((await client.addRepo({ path: join(tmp.path, 'other'), name: 'other', keepIgnored: [] })).repo!.name).toBe('other');
  });
});
