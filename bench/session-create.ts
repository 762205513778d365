import { join } from 'node:path';
import { createAgentClient } from '../clients/sdk/index.js';
import type { Bench } from './bench-case.js';
import { benchWorkspace, execFileAsync, generateRepo, gitSync } from './fixtures.js';

const FILES = 5000;
const CASE = 'CreateSession, 1 repo';

/**
 * CreateSession through the SDK against `git worktree add -b` of the same repo, on a
 * generated repository of about 5,000 files: the session's overhead (validation, the
 * checked-out-branch probe, rows and event in one transaction) over the git work itself.
 * Each created worktree is removed again, untimed.
 */
export const sessionCreateBench: Bench = {
  name: 'session-create',
  options: { calls: 30, warmupCalls: 3, rounds: 6 },
  async setup() {
    const ws = await benchWorkspace();
    const repoPath = generateRepo(join(ws.dir, 'big'), FILES);
    const sdk = createAgentClient({ address: ws.agent.address, defaultDeadlineMs: 60_000 });
    const { repo } = await sdk.addRepo({ path: repoPath, name: 'big' });
    let n = 0;
    let lastSession = '';
    let lastRaw = '';
    return {
      baseline: {
        name: `git worktree add, ${FILES} files (baseline)`,
        async call() {
          lastRaw = join(ws.dir, 'raw', `w${++n}`);
          await execFileAsync('git', ['worktree', 'add', '--quiet', '-b', `raw-${n}`, '--', lastRaw, 'main'], { cwd: repoPath });
        },
        async reset() {
          gitSync(repoPath, 'worktree', 'remove', '--force', '--', lastRaw);
        },
      },
      cases: [
        {
          name: CASE,
          async call() {
            const { session } = await sdk.createSession({ repoIds: [repo!.id], branch: `bench-${++n}` });
            lastSession = session!.id;
          },
          async reset() {
            await sdk.killSession({ id: lastSession });
          },
        },
      ],
      targeted: new Set([CASE]),
      targetRatio: 1.3,
      async teardown() {
        sdk.close();
        await ws.close();
      },
    };
  },
};
