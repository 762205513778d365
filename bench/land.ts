import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAgentClient } from '../clients/sdk/index.js';
import { LandStrategy } from '../gen/grove/agent/v1/agent_service.js';
import { JobState } from '../gen/grove/agent/v1/resources.js';
import type { Bench } from './bench-case.js';
import { benchWorkspace, execFileAsync, generateRepo, gitSync } from './fixtures.js';

const FILES = 5000;
const CHANGED = 20;

/** A commit that changes `count` files of the generated repo in `cwd` (round `n`, so each is new). */
function commitChanges(cwd: string, n: number, count: number, offset: number, message: string): void {
  for (let i = 0; i < count; i++) {
    const index = (offset + i * 37) % FILES;
    writeFileSync(join(cwd, `d${index % 50}`, `e${index % 7}`, `f${index}.txt`), `file ${index}, round ${n}\n`);
  }
  gitSync(cwd, 'commit', '--quiet', '--all', '-m', message);
}

/**
 * `grove session land` of a session that changed 20 files of a 5,000-file repo whose main
 * moved meanwhile (a real merge, with the user's clean checkout brought along), against the
 * same merge done by hand: `git merge` in a checkout of an identical repo. The difference is
 * the price of a durable, all-or-nothing job: its rows and events, the plan, the
 * compare-and-swap, and the checks before anything moves.
 */
export const landBench: Bench = {
  name: 'land',
  options: { calls: 20, warmupCalls: 2, rounds: 4 },
  async setup() {
    const ws = await benchWorkspace();
    const sdk = createAgentClient({ address: ws.agent.address, defaultDeadlineMs: 120_000 });
    const landed = generateRepo(join(ws.dir, 'landed'), FILES);
    const byHand = generateRepo(join(ws.dir, 'by-hand'), FILES);
    // The agent's merge commits take their author from the repo's config, as a user's would.
    for (const repo of [landed, byHand]) {
      gitSync(repo, 'config', 'user.name', 'Bench');
      gitSync(repo, 'config', 'user.email', 'b@bench.invalid');
      // The bench's own commits must not start a background gc inside someone's timed call.
      gitSync(repo, 'config', 'gc.auto', '0');
      gitSync(repo, 'config', 'maintenance.auto', 'false');
    }
    const { repo } = await sdk.addRepo({ path: landed, name: 'landed' });
    const { session } = await sdk.createSession({ repoIds: [repo!.id], branch: 'work' });
    const sessionTree = session!.worktrees[0]!.path;
    const handTree = join(ws.dir, 'by-hand-work');
    gitSync(byHand, 'worktree', 'add', '--quiet', '-b', 'work', handTree);
    let round = 0;
    // Each call lands new work: main moved on (one file) and the branch changed 20 others.
    const prepare = (main: string, work: string) => {
      round++;
      commitChanges(main, round, 1, 4999, `main moves on, round ${round}`);
      commitChanges(work, round, CHANGED, round * 101, `work, round ${round}`);
    };
    prepare(landed, sessionTree);
    prepare(byHand, handTree);
    return {
      baseline: {
        name: `git merge by hand (${FILES} files, ${CHANGED} changed)`,
        call: () => execFileAsync('git', ['merge', '--quiet', '--no-edit', 'work'], { cwd: byHand }),
        reset: async () => prepare(byHand, handTree),
      },
      cases: [
        {
          name: 'grove session land (job until SUCCEEDED)',
          async call() {
            const { job } = await sdk.landSession({ sessionId: session!.id, strategy: LandStrategy.LAND_STRATEGY_MERGE });
            for (;;) {
              const seen = await sdk.getJob({ id: job!.id });
              if (seen.state === JobState.JOB_STATE_SUCCEEDED) return;
              if (seen.state === JobState.JOB_STATE_FAILED) throw new Error(`land failed: ${seen.error}`);
              await new Promise((r) => setTimeout(r, 2));
            }
          },
          reset: async () => prepare(landed, sessionTree),
        },
      ],
      targeted: new Set<string>(),
      targetRatio: Number.POSITIVE_INFINITY,
      async teardown() {
        sdk.close();
        await ws.close();
      },
    };
  },
};
