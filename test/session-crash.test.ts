import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Orphan_Kind, WorktreeState, type Session } from '../gen/grove/agent/v1/resources.js';
import { gitSync, makeRepo } from './helpers/git-repo.js';
import { agentClient } from './helpers/grpc.js';
import { startAgentProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

/**
 * The agent SIGKILLs itself at a named step (GROVE_CRASH_AT); after a restart, the user's
 * work must be either in its worktree or in a recorded preserved ref: never neither.
 */
describe('crash points keep the never-lose-work invariant', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  const WORK = 'uncommitted work\n';

  async function scenario(point: string, operation: 'create' | 'kill' | 'cleanup', dirty: boolean) {
    const dir = join(tmp.path, point);
    const dataDir = join(dir, 'agent');
    const root = join(dir, 'worktrees');
    const repoPath = makeRepo(join(dir, 'repo'));
    const args = ['--worktree-root', root];

    let agent = await startAgentProcess({ dataDir, extraArgs: args });
    let { client, channel } = agentClient(agent.address);
    const repo = (await client.addRepo({ path: repoPath, name: 'repo' })).repo!;
    let session: Session | undefined;
    if (operation !== 'create') {
      session = (await client.createSession({ repoIds: [repo.id], branch: 'work', base: '', title: '', labels: {}, requestId: '' }))
        .session!;
      if (dirty) writeFileSync(join(session.worktrees[0]!.path, 'notes.txt'), WORK);
    }
    channel.close();
    await agent.stop();

    // Run the operation on an agent that dies at `point`.
    agent = await startAgentProcess({ dataDir, extraArgs: args, env: { GROVE_ENABLE_CRASH_POINTS: '1', GROVE_CRASH_AT: point } });
    ({ client, channel } = agentClient(agent.address));
    const call =
      operation === 'create'
        ? client.createSession({ repoIds: [repo.id], branch: 'work', base: '', title: '', labels: {}, requestId: '' })
        : operation === 'kill'
          ? client.killSession({ id: session!.id })
          : client.cleanupSession({ id: session!.id });
    await expect(call).rejects.toThrow();
    const exitCode = await agent.exited;
    expect(exitCode).toBeNull(); // killed by a signal, not a clean exit
    channel.close();

    agent = await startAgentProcess({ dataDir, extraArgs: args });
    ({ client, channel } = agentClient(agent.address));
    return {
      client,
      repo,
      root,
      session: session ? await client.getSession({ id: session.id }) : undefined,
      async close() {
        channel.close();
        await agent.stop();
      },
    };
  }

  function expectWorkSafe(session: Session, repoPath: string) {
    const row = session.worktrees[0]!;
    const inWorktree = existsSync(join(row.path, 'notes.txt')) && readFileSync(join(row.path, 'notes.txt'), 'utf8') === WORK;
    const inRef = row.preservedRef !== '' && gitSync(repoPath, 'show', `${row.preservedRef}:notes.txt`) === WORK;
    expect(inWorktree || inRef, `work lost: ${JSON.stringify(row)}`).toBe(true);
  }

  it('create.after_worktree: no session row, the fresh worktree is reported as an orphan', async () => {
    const s = await scenario('create.after_worktree', 'create', false);
    try {
      const { sessions } = await s.client.listSessions({ pageSize: 0, pageToken: '', state: 0, repoId: '', labelSelector: '' });
      expect(sessions).toHaveLength(0);
      const orphans = (await s.client.listOrphans({})).orphans;
      expect(orphans.some((o) => o.kind === Orphan_Kind.KIND_DIRECTORY && o.path.startsWith(s.root))).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('kill.before_remove: the worktree is intact and ACTIVE', async () => {
    const s = await scenario('kill.before_remove', 'kill', false);
    try {
      const row = s.session!.worktrees[0]!;
      expect(row.state).toBe(WorktreeState.WORKTREE_STATE_ACTIVE);
      expect(existsSync(row.path)).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('kill.after_remove: the begun removal is finished and recorded REMOVED at start-up, restorable', async () => {
    const s = await scenario('kill.after_remove', 'kill', false);
    try {
      const row = s.session!.worktrees[0]!;
      expect(row.state).toBe(WorktreeState.WORKTREE_STATE_REMOVED);
      expect(row.lastError).toMatch(/finished at start-up/);
      const restored = (await s.client.restoreSessions({ ids: [s.session!.id], all: false })).sessions[0]!;
      expect(existsSync(restored.worktrees[0]!.path)).toBe(true);
    } finally {
      await s.close();
    }
  });

  for (const point of ['preserve.after_ref', 'preserve.after_row', 'remove.after_git']) {
    it(`${point}: the work is in the worktree or in a recorded preserved ref`, async () => {
      const s = await scenario(point, 'cleanup', true);
      try {
        expectWorkSafe(s.session!, s.repo.path);
        // Whatever happened, the preserved ref is listed, recorded on the row or not.
        const listed = (await s.client.listPreserved({ sessionId: s.session!.id })).preserved;
        expect(listed.map((p) => p.ref)).toEqual([`refs/grove/preserved/${s.session!.id}/repo`]);
        if (point === 'remove.after_git') {
          expect(s.session!.worktrees[0]!.state).toBe(WorktreeState.WORKTREE_STATE_UNAVAILABLE);
        }
        // Cleanup can always be finished after the crash.
        const done = (await s.client.cleanupSession({ id: s.session!.id })).session!;
        expect(done.worktrees[0]!.state).toBe(WorktreeState.WORKTREE_STATE_UNAVAILABLE);
        expectWorkSafe(done, s.repo.path);
      } finally {
        await s.close();
      }
    });
  }
});
