import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createAgentClient } from '../clients/sdk/index.js';
import { TaskState } from '../gen/grove/agent/v1/resources.js';
import type { Bench } from './bench-case.js';
import { benchWorkspace, generateRepo } from './fixtures.js';

const CASE = 'StartTask -> RUNNING';

/**
 * How long from StartTask until the task's process runs (the agent has spawned its
 * detached runner and recorded RUNNING, seen as the task.started event), against a raw
 * spawn of the same command until the child is running. The difference is the price of a
 * run that survives the agent: a node runner process in its own session, a lock and rows.
 */
export const taskStartBench: Bench = {
  name: 'task-start',
  options: { calls: 40, warmupCalls: 3, rounds: 5 },
  async setup() {
    const ws = await benchWorkspace();
    const sdk = createAgentClient({ address: ws.agent.address, defaultDeadlineMs: 60_000 });
    const { repo } = await sdk.addRepo({ path: generateRepo(join(ws.dir, 'repo'), 10), name: 'repo' });
    const { session } = await sdk.createSession({ repoIds: [repo!.id], branch: 'bench' });
    const cwd = session!.worktrees[0]!.path;
    const { revision } = await sdk.getAgentInfo({});
    const watching = new AbortController();
    const started = new Map<string, () => void>();
    const pendingStarts = new Set<string>();
    void (async () => {
      for await (const event of sdk.watch({ afterRevision: revision, signal: watching.signal })) {
        if (event.payload?.$case !== 'task' || event.payload.value.state !== TaskState.TASK_STATE_RUNNING) continue;
        const id = event.payload.value.id;
        const resolve = started.get(id);
        if (resolve) resolve();
        else pendingStarts.add(id);
      }
    })().catch(() => undefined);
    let lastTask = '';
    return {
      baseline: {
        name: 'raw spawn of `true` (baseline)',
        call: () =>
          new Promise<void>((resolve, reject) => {
            const child = spawn('true', [], { cwd, stdio: 'ignore' });
            child.once('spawn', resolve);
            child.once('error', reject);
          }),
      },
      cases: [
        {
          name: CASE,
          async call() {
            const { task } = await sdk.startTask({ sessionId: session!.id, argv: ['true'] });
            lastTask = task!.id;
            if (pendingStarts.delete(lastTask)) return;
            await new Promise<void>((resolve) => started.set(lastTask, resolve));
          },
          async reset() {
            // The next task would queue behind this one: wait (untimed) until it has ended.
            for (;;) {
              const task = await sdk.getTask({ id: lastTask });
              if (task.state !== TaskState.TASK_STATE_RUNNING && task.state !== TaskState.TASK_STATE_QUEUED) return;
              await new Promise((r) => setTimeout(r, 5));
            }
          },
        },
      ],
      targeted: new Set<string>(),
      targetRatio: Number.POSITIVE_INFINITY,
      async teardown() {
        watching.abort();
        sdk.close();
        await ws.close();
      },
    };
  },
};
