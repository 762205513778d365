import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JobKind, JobState } from '../gen/grove/agent/v1/resources.js';
import { grove } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { gitSync, makeRepo } from './helpers/git-repo.js';
import { agentClient } from './helpers/grpc.js';
import { startAgentProcess, startCoordinatorProcess, waitFor } from './helpers/processes.js';
import { querySql } from './helpers/sqlite.js';
import { tempDir } from './helpers/temp.js';

describe('retention: finished job rows and the command audit stay bounded', () => {
  const tmp = tempDir();

  it('the agent keeps only the newest --job-retention finished jobs, compacted at start (and about once a minute)', async () => {
    const dataDir = join(tmp.path, 'jobs-agent');
    const origin = makeRepo(join(tmp.path, 'origin'));
    const clone = join(tmp.path, 'clone');
    gitSync(tmp.path, 'clone', '--quiet', origin, clone);
    let agent = await startAgentProcess({ dataDir });
    let { client, channel } = agentClient(agent.address);
    const repo = (await client.addRepo({ path: clone, name: 'clone' })).repo!;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { job } = await client.submitJob({
        kind: JobKind.JOB_KIND_SYNC_REPO,
        repoId: repo.id,
        branch: '',
        base: '',
        sessionId: '',
        sessionIds: [],
        idempotencyKey: '',
      });
      // One at a time, so their end order is their submit order.
      await waitFor(
        async () => ((await client.getJob({ id: job!.id })).state === JobState.JOB_STATE_SUCCEEDED ? true : undefined),
        `job ${i}`,
      );
      ids.push(job!.id);
    }
    expect((await client.listJobs({})).jobs).toHaveLength(5);
    channel.close();
    await agent.stop();
    agent = await startAgentProcess({ dataDir, extraArgs: ['--job-retention', '2'] });
    ({ client, channel } = agentClient(agent.address));
    const kept = (await client.listJobs({})).jobs.map((j) => j.id);
    expect(kept.sort()).toEqual(ids.slice(3).sort());
    channel.close();
    await agent.stop();
  });

  it('the coordinator keeps only the newest --audit-retention command audit rows, and none older than --audit-max-age', async () => {
    const coordinatorDir = join(tmp.path, 'coordinator');
    const listen = `127.0.0.1:${await freePort()}`;
    let coordinator = await startCoordinatorProcess({ dataDir: coordinatorDir, listen });
    const agent = await startAgentProcess({ dataDir: join(tmp.path, 'audit-agent'), extraArgs: ['--coordinator', listen, '--name', 'a'] });
    const { client, channel } = agentClient(agent.address);
    await client.addRepo({ path: makeRepo(join(tmp.path, 'audited')), name: 'audited' });
    await waitFor(async () => {
      const listed = await grove(['repo', 'ls', '--coordinator', listen]);
      return listed.stdout.includes('audited') ? true : undefined;
    }, 'the repo projected');
    for (let i = 0; i < 5; i++) {
      const created = await grove(['session', 'create', '--repo', 'audited', '--branch', `audit-${i}`, '--coordinator', listen]);
      expect(created.code).toBe(0);
    }
    const audit = join(coordinatorDir, 'coordinator.sqlite');
    const rows = () =>
      querySql<{ request_id: string }>(audit, "select request_id from command_audit where method = 'CreateSession' order by id");
    const all = await rows();
    expect(all).toHaveLength(5);
    await coordinator.stop();
    coordinator = await startCoordinatorProcess({ dataDir: coordinatorDir, listen, extraArgs: ['--audit-retention', '2'] });
    expect(await rows()).toEqual(all.slice(3));
    await coordinator.stop();
    coordinator = await startCoordinatorProcess({ dataDir: coordinatorDir, listen, extraArgs: ['--audit-max-age', '1ms'] });
    await waitFor(async () => ((await rows()).length === 0 ? true : undefined), 'old audit rows dropped');
    channel.close();
    await agent.stop();
    await coordinator.stop();
  });
});
