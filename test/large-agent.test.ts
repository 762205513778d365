import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Status } from 'nice-grpc';
import { afterAll, describe, expect, it } from 'vitest';
import { gatedTask } from './helpers/fixtures.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient, coordinatorClient, expectStatus } from './helpers/grpc.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

/**
 * Limits that add up: every task is within its limits, yet together they are more than one
 * message may carry. The snapshot travels in chunks, so such an agent still joins; and what
 * one session may queue is bounded, so its state cannot grow without end.
 */
/** Every task id, page by page: small pages, since each task carries a 350 KiB prompt. */
async function allTaskIds(page: (token: string) => Promise<{ tasks: Array<{ id: string }>; nextPageToken: string }>): Promise<string[]> {
  const ids: string[] = [];
  let token = '';
  do {
    const next = await page(token);
    ids.push(...next.tasks.map((t) => t.id));
    token = next.nextPageToken;
  } while (token);
  return ids;
}

describe('an agent whose state is larger than one message', () => {
  const tmp = tempDir();
  const processes: ServiceProcess[] = [];
  afterAll(async () => {
    for (const p of processes.reverse()) await p.stop();
    tmp.remove();
  });

  it('joins a coordinator with every queued task projected, and a session queue is bounded', async () => {
    const agent = await startAgentProcess({ dataDir: join(tmp.path, 'agent'), extraArgs: ['--worktree-root', join(tmp.path, 'wt')] });
    processes.push(agent);
    const { client, channel } = agentClient(agent.address);
    const repo = (await client.addRepo({ path: makeRepo(join(tmp.path, 'repo')), name: 'repo', keepIgnored: [] })).repo!;
    const prompt = 'p'.repeat(350 * 1024);
    const queued: string[] = [];
    const gates: string[] = [];
    // 3 sessions × 80 tasks × 350 KiB ≈ 82 MiB of queued prompts: past the 64 MiB message limit.
    for (let s = 0; s < 3; s++) {
      const session = (
        await client.createSession({ repoIds: [repo.id], branch: `big-${s}`, base: '', title: '', labels: {}, requestId: '' })
      ).session!;
      gates.push(join(session.worktrees[0]!.path, 'go'));
      const first = (
        await client.startTask({ sessionId: session.id, argv: gatedTask('go', 'done'), prompt: '', env: {}, repoId: '', requestId: '' })
      ).task!;
      queued.push(first.id);
      await Promise.all(
        Array.from({ length: 80 }, async () => {
          const task = (await client.startTask({ sessionId: session.id, argv: ['true'], prompt, env: {}, repoId: '', requestId: '' }))
            .task!;
          queued.push(task.id);
        }),
      );
      if (s === 0) {
        // 80 queued of at most 100: 20 more fit by count, but not by bytes (32 MiB a session).
        const err = await expectStatus(
          Promise.all(
            Array.from({ length: 30 }, () =>
              client.startTask({ sessionId: session.id, argv: ['true'], prompt, env: {}, repoId: '', requestId: '' }),
            ),
          ),
          Status.RESOURCE_EXHAUSTED,
          /would take \d+ bytes; at most/,
        );
        expect(err.details).toMatch(/session ses_/);
      }
    }
    queued.splice(
      0,
      queued.length,
      ...(await allTaskIds((pageToken) => client.listTasks({ sessionId: '', pageSize: 5, pageToken, state: 0 }))),
    );
    expect(queued.length).toBeGreaterThan(240);

    // A coordinator that has never seen this agent asks it for a snapshot.
    const coordinator = await startCoordinatorProcess({ dataDir: join(tmp.path, 'coordinator') });
    processes.push(coordinator);
    channel.close();
    await agent.stop();
    processes.splice(processes.indexOf(agent), 1);
    const relinked = await startAgentProcess({
      dataDir: join(tmp.path, 'agent'),
      extraArgs: ['--worktree-root', join(tmp.path, 'wt'), '--coordinator', coordinator.address],
    });
    processes.push(relinked);
    const { client: coord, channel: coordChannel } = coordinatorClient(coordinator.address);
    try {
      const seen = await waitFor(
        async () => {
          const ids = new Set(
            await allTaskIds((pageToken) => coord.listTasks({ agent: '', sessionId: '', pageSize: 5, pageToken, state: 0 })),
          );
          return queued.every((id) => ids.has(id)) ? ids : undefined;
        },
        'every queued task in the coordinator projection',
        90_000,
      );
      expect(seen.size).toBeGreaterThanOrEqual(queued.length);
    } finally {
      coordChannel.close();
      for (const gate of gates) writeFileSync(gate, '');
    }
  });
});
