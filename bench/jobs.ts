import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAgentClient, type AgentClient } from '../clients/sdk/index.js';
import { JobKind, JobState } from '../gen/grove/agent/v1/resources.js';
import type { Bench } from './bench-case.js';
import { benchWorkspace, execFileAsync, generateRepo, gitSync, type BenchWorkspace } from './fixtures.js';

const SUBMIT_BUSY = 'SubmitJob while 10 long jobs run';

/** A clone of a local origin; with `gate`, its fetches wait until that file exists. */
function clone(ws: BenchWorkspace, name: string, gate?: string): string {
  const origin = generateRepo(join(ws.dir, `${name}-origin`), 5);
  const path = join(ws.dir, name);
  gitSync(ws.dir, 'clone', '--quiet', origin, path);
  if (gate)
    gitSync(
      path,
      'config',
      'remote.origin.uploadpack',
      `sh -c 'i=0; while [ ! -f ${gate} ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done; exec git-upload-pack "$1"' --`,
    );
  return path;
}

/**
 * Waits until every job of `ids` has ended, told by the agent's own event stream (one
 * watcher, as a client would be), not by polling each job: 100 GetJob calls every few
 * milliseconds would load the agent the bench is timing.
 */
async function untilAllEnded(sdk: AgentClient, ids: Set<string>, afterRevision: number): Promise<void> {
  const stop = new AbortController();
  try {
    for await (const event of sdk.watchEvents({ afterRevision }, { signal: stop.signal })) {
      if (event.type !== 'job.ended' || event.payload?.$case !== 'job') continue;
      const job = event.payload.value;
      if (job.state === JobState.JOB_STATE_FAILED) throw new Error(`job ${job.id} failed: ${job.error}`);
      ids.delete(job.id);
      if (ids.size === 0) return;
    }
  } finally {
    stop.abort();
  }
}

/**
 * SubmitJob must not wait on running jobs: its latency on an agent whose workers are busy
 * with 10 long fetches (blocked on a gate) against an idle agent. Each submission queues a
 * fetch on a further gated repo, so no submission ever runs during the measurement.
 */
export const jobSubmitBench: Bench = {
  name: 'job-submit',
  options: { calls: 300, warmupCalls: 20, rounds: 6 },
  async setup() {
    const idle = await benchWorkspace({ jobConcurrency: 16 });
    const busy = await benchWorkspace({ jobConcurrency: 16 });
    const gate = join(busy.dir, 'gate');
    const idleSdk = createAgentClient({ address: idle.agent.address });
    const busySdk = createAgentClient({ address: busy.agent.address });
    for (let i = 0; i < 10; i++) {
      const { repo } = await busySdk.addRepo({ path: clone(busy, `long${i}`, gate), name: `long${i}` });
      await busySdk.submitJob({ kind: JobKind.JOB_KIND_SYNC_REPO, repoId: repo!.id });
    }
    const target = async (ws: BenchWorkspace, sdk: AgentClient) =>
      (await sdk.addRepo({ path: clone(ws, 'target', join(ws.dir, 'gate')), name: 'target' })).repo!.id;
    const idleTarget = await target(idle, idleSdk);
    const busyTarget = await target(busy, busySdk);
    return {
      baseline: {
        name: 'SubmitJob, idle agent (baseline)',
        call: () => idleSdk.submitJob({ kind: JobKind.JOB_KIND_SYNC_REPO, repoId: idleTarget }),
      },
      cases: [{ name: SUBMIT_BUSY, call: () => busySdk.submitJob({ kind: JobKind.JOB_KIND_SYNC_REPO, repoId: busyTarget }) }],
      targeted: new Set([SUBMIT_BUSY]),
      targetRatio: 1.5,
      async teardown() {
        writeFileSync(gate, '');
        writeFileSync(join(idle.dir, 'gate'), '');
        idleSdk.close();
        busySdk.close();
        await idle.close();
        await busy.close();
      },
    };
  },
};

const DRAIN = 'drain 100 fetch jobs across 10 repos';

/**
 * Throughput: 100 queued sync_repo jobs across 10 repos drained by the workers
 * (concurrency 4, one per repo), against the same 100 fetches run one after another with
 * plain git. Each sample is one whole drain. Target (#16): 1.3x.
 */
export const jobDrainBench: Bench = {
  name: 'job-drain',
  options: { calls: 3, warmupCalls: 1, rounds: 3 },
  async setup() {
    const ws = await benchWorkspace({ jobConcurrency: 4 });
    const sdk = createAgentClient({ address: ws.agent.address, defaultDeadlineMs: 60_000 });
    const repos: Array<{ id: string; path: string }> = [];
    for (let i = 0; i < 10; i++) {
      const path = clone(ws, `r${i}`);
      repos.push({ id: (await sdk.addRepo({ path, name: `r${i}` })).repo!.id, path });
    }
    return {
      baseline: {
        name: '100 sequential git fetch (baseline)',
        async call() {
          for (let i = 0; i < 100; i++) await execFileAsync('git', ['fetch', '--prune', 'origin'], { cwd: repos[i % 10]!.path });
        },
      },
      cases: [
        {
          name: DRAIN,
          async call() {
            const ids = new Set<string>();
            const { revision } = await sdk.getAgentInfo({});
            for (let i = 0; i < 100; i++)
              ids.add((await sdk.submitJob({ kind: JobKind.JOB_KIND_SYNC_REPO, repoId: repos[i % 10]!.id })).job!.id);
            await untilAllEnded(sdk, ids, revision);
          },
        },
      ],
      targeted: new Set([DRAIN]),
      targetRatio: 1.3,
      async teardown() {
        sdk.close();
        await ws.close();
      },
    };
  },
};
