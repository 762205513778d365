import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClientError, Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetAgentInfoRequest } from '../gen/grove/agent/v1/agent_service.js';
import { SessionActivity, TaskState } from '../gen/grove/agent/v1/resources.js';
import { AgentStatus, type WatchResponse } from '../gen/grove/coordinator/v1/coordinator_service.js';
import { waitForFile } from './helpers/fixtures.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient, coordinatorClient } from './helpers/grpc.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

/**
 * A network partition between an agent and its coordinator, on test hosts of our own: the
 * agent runs in a network namespace joined to this one by a veth pair, and the link is cut
 * by taking the veth down. Where namespaces cannot be made (not root), the test says so and
 * does not run.
 */
const id = randomBytes(3).toString('hex');
const ns = `grove-${id}`;
const hostIf = `gv${id}a`;
const nsIf = `gv${id}b`;
const subnet = 200 + (parseInt(id.slice(0, 2), 16) % 50);
const hostIp = `10.231.${subnet}.1`;
const agentIp = `10.231.${subnet}.2`;

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
let usable = true;
try {
  ip('netns', 'add', ns);
  ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
  ip('link', 'set', nsIf, 'netns', ns);
  ip('addr', 'add', `${hostIp}/30`, 'dev', hostIf);
  ip('link', 'set', hostIf, 'up');
  ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${agentIp}/30`, 'dev', nsIf);
  ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up');
  ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
} catch (err) {
  usable = false;
  process.stderr.write(`partition test not run: cannot make a network namespace here (${String((err as Error).message).split('\n')[0]})\n`);
}

describe.runIf(usable)('a network partition between an agent and its coordinator', () => {
  const tmp = tempDir();
  let coordinator: ServiceProcess;
  let agent: ServiceProcess;
  const channels: Channel[] = [];

  beforeAll(async () => {
    // The coordinator listens on every address: the agent dials it across the veth, the test on loopback.
    coordinator = await startCoordinatorProcess({
      dataDir: join(tmp.path, 'coordinator'),
      listen: '0.0.0.0:0',
      extraArgs: ['--heartbeat', '200ms', '--agent-grace', '1500ms', '--agent-ttl', '3s'],
    });
    const port = coordinator.address.split(':').pop();
    agent = await startAgentProcess({
      dataDir: join(tmp.path, 'agent'),
      listen: `${agentIp}:0`,
      extraArgs: [
        '--worktree-root',
        join(tmp.path, 'wt'),
        '--coordinator',
        `${hostIp}:${port}`,
        '--allow-plaintext-link',
        '--name',
        'far',
        '--heartbeat',
        '200ms',
      ],
      spawn: { wrapper: ['ip', 'netns', 'exec', ns] },
    });
  });
  afterAll(async () => {
    for (const channel of channels) channel.close();
    ip('link', 'set', hostIf, 'up');
    await agent?.stop();
    await coordinator?.stop();
    try {
      ip('link', 'del', hostIf);
    } finally {
      ip('netns', 'del', ns);
      tmp.remove();
    }
  });

  it('turns UNKNOWN (never WORKING), fails routed calls fast, and converges on heal with no event lost or repeated', async () => {
    const { client: coord, channel: coordChannel } = coordinatorClient(`127.0.0.1:${coordinator.address.split(':').pop()}`);
    const { client: direct, channel: directChannel } = agentClient(agent.address);
    channels.push(coordChannel, directChannel);
    const agentInfo = await direct.getAgentInfo({});
    const repo = (await direct.addRepo({ path: makeRepo(join(tmp.path, 'repo')), name: 'repo', keepIgnored: [] })).repo!;
    const session = (await direct.createSession({ repoIds: [repo.id], branch: 'far', base: '', title: '', labels: {}, requestId: '' }))
      .session!;
    const wt = session.worktrees[0]!.path;
    const task = (
      await direct.startTask({
        sessionId: session.id,
        argv: ['sh', '-c', `${waitForFile('go')}; echo done > ended`],
        prompt: '',
        env: {},
        repoId: '',
        requestId: '',
      })
    ).task!;
    const statusOf = async () => (await coord.getAgent({ agent: 'far' })).status;
    const sessionSeen = async () => (await coord.getSession({ id: session.id })).activity;
    await waitFor(
      async () => ((await sessionSeen()) === SessionActivity.SESSION_ACTIVITY_WORKING ? true : undefined),
      'the session WORKING on the coordinator',
    );

    // Every agent event the coordinator passes on, from here to the end.
    const seen: number[] = [];
    let live = false;
    const watching = new AbortController();
    const watch = (async () => {
      try {
        for await (const response of coord.watch(
          { fromRevision: 0, agent: agentInfo.id, initialSnapshot: true, kinds: [] },
          { signal: watching.signal },
        )) {
          const { change, snapshotDone } = response as WatchResponse;
          if (snapshotDone) live = true;
          // Agent events only: a session re-shown by the coordinator (its activity turned
          // UNKNOWN or back) carries the agent's revision again, by design.
          else if (live && change?.$case === 'event' && !change.value.type.startsWith('session.agent_')) seen.push(change.value.revision);
        }
      } catch {
        // ended by the test
      }
    })();

    await waitFor(() => live || undefined, 'the watch to be live');
    ip('link', 'set', hostIf, 'down'); // the partition
    const samples: SessionActivity[] = [];
    await waitFor(async () => {
      const status = await statusOf();
      if (status !== AgentStatus.AGENT_STATUS_CONNECTED) samples.push(await sessionSeen());
      return status === AgentStatus.AGENT_STATUS_UNKNOWN ? true : undefined;
    }, 'the agent to turn UNKNOWN');
    expect(await sessionSeen()).toBe(SessionActivity.SESSION_ACTIVITY_UNKNOWN);
    expect(samples).not.toContain(SessionActivity.SESSION_ACTIVITY_WORKING);
    const routed = await coord
      .route({
        agent: 'far',
        method: 'GetAgentInfo',
        request: Buffer.from(GetAgentInfoRequest.encode({}).finish()),
        timeoutMs: 30_000,
        labelSelector: '',
        hasRepo: '',
      })
      .catch((err: unknown) => err);
    expect(routed).toBeInstanceOf(ClientError);
    expect(Status[(routed as ClientError).code]).toBe('UNAVAILABLE'); // at once, not after the 30 s

    writeFileSync(join(wt, 'go'), ''); // the task ends while nobody can hear (the agent is unreachable)
    await waitFor(() => existsSync(join(wt, 'ended')) || undefined, 'the task to end on the agent');

    ip('link', 'set', hostIf, 'up'); // heal
    await waitFor(async () => ((await statusOf()) === AgentStatus.AGENT_STATUS_CONNECTED ? true : undefined), 'the agent to relink');
    const converged = await waitFor(async () => {
      const { tasks } = await coord.listTasks({ agent: '', sessionId: session.id, pageSize: 100, pageToken: '', state: 0 });
      const seenTask = tasks.find((t) => t.id === task.id);
      return seenTask?.state === TaskState.TASK_STATE_SUCCEEDED && (await sessionSeen()) === SessionActivity.SESSION_ACTIVITY_IDLE
        ? true
        : undefined;
    }, 'the projection to converge');
    expect(converged).toBe(true);
    const { revision } = await direct.getAgentInfo({});
    await waitFor(() => (seen.at(-1) === revision ? true : undefined), `the watcher to reach the agent revision ${revision}`).catch(
      (err: Error) => {
        throw new Error(`${err.message}; seen ${JSON.stringify(seen)}`);
      },
    );
    watching.abort();
    await watch;
    // Each agent event once, in order, none missing across the partition.
    expect(seen.length).toBeGreaterThan(0);
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => seen[0]! + i));
  });
});
