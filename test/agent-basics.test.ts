import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, Status, type Channel } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';
import { ServerReflectionService } from 'nice-grpc-server-reflection';
import { ServerReflectionRequest } from 'nice-grpc-server-reflection/lib/proto/grpc/reflection/v1/reflection_pb.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import type { Event } from '../gen/grove/agent/v1/resources.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient, expectStatus } from './helpers/grpc.js';
import { startAgentProcess, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

async function collect(client: AgentServiceClient, after: number, count: number): Promise<Event[]> {
  const controller = new AbortController();
  const events: Event[] = [];
  try {
    for await (const event of client.watchEvents({ afterRevision: after }, { signal: controller.signal })) {
      events.push(event);
      if (events.length === count) controller.abort();
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  }
  return events;
}

describe('agent basics', () => {
  const tmp = tempDir();
  let agent: ServiceProcess;
  let channel: Channel;
  let client: AgentServiceClient;

  beforeAll(async () => {
    agent = await startAgentProcess({ dataDir: join(tmp.path, 'agent'), extraArgs: ['--event-retention', '4'] });
    ({ client, channel } = agentClient(agent.address));
  });
  afterAll(async () => {
    channel?.close();
    await agent?.stop();
    tmp.remove();
  });

  it('answers health checks for the server and the agent service', async () => {
    const health = createClient(HealthDefinition, channel);
    expect((await health.check({ service: '' })).status).toBe(1); // SERVING
    expect((await health.check({ service: 'grove.agent.v1.AgentService' })).status).toBe(1);
  });

  it('lists its services through server reflection', async () => {
    const reflection = createClient(ServerReflectionService, channel);
    const request = new ServerReflectionRequest();
    request.setListServices('*');
    async function* requests() {
      yield request;
    }
    const names: string[] = [];
    for await (const response of reflection.serverReflectionInfo(requests())) {
      for (const service of response.getListServicesResponse()?.getServiceList() ?? []) {
        names.push(service.getName());
      }
    }
    expect(names).toContain('grove.agent.v1.AgentService');
    expect(names).toContain('grpc.health.v1.Health');
  });

  it('adds a repo by realpath and detects its default branch', async () => {
    const repoPath = makeRepo(join(tmp.path, 'alpha'), undefined, 'trunk');
    mkdirSync(join(tmp.path, 'links'));
    symlinkSync(repoPath, join(tmp.path, 'links', 'alpha-link'));
    const tricky = join(tmp.path, 'links', '..', 'links', 'alpha-link');
    const { repo } = await client.addRepo({ path: tricky, name: '' });
    expect(repo?.path).toBe(repoPath);
    expect(repo?.name).toBe('alpha');
    expect(repo?.defaultBranch).toBe('trunk');
  });

  it('refuses bad repos with a clear status and writes nothing', async () => {
    const before = await client.listRepos({ pageSize: 0, pageToken: '' });
    const plain = join(tmp.path, 'plain');
    mkdirSync(plain);
    writeFileSync(join(plain, 'file.txt'), 'not a repo');
    await expectStatus(client.addRepo({ path: join(tmp.path, 'missing'), name: '' }), Status.INVALID_ARGUMENT, /does not exist/);
    await expectStatus(client.addRepo({ path: plain, name: '' }), Status.INVALID_ARGUMENT, /not inside a git working tree/);
    await expectStatus(client.addRepo({ path: 'relative/path', name: '' }), Status.INVALID_ARGUMENT, /absolute/);
    const repoPath = makeRepo(join(tmp.path, 'dup'));
    await expectStatus(client.addRepo({ path: repoPath, name: '../evil' }), Status.INVALID_ARGUMENT, /repo name/);
    const after = await client.listRepos({ pageSize: 0, pageToken: '' });
    expect(after.repos).toEqual(before.repos);
    expect(after.revision).toBe(before.revision);

    const { repo } = await client.addRepo({ path: repoPath, name: 'dup' });
    await expectStatus(client.addRepo({ path: join(repoPath, '.', ''), name: 'other' }), Status.ALREADY_EXISTS, /already registered/);
    const other = makeRepo(join(tmp.path, 'other'));
    await expectStatus(client.addRepo({ path: other, name: 'dup' }), Status.ALREADY_EXISTS, /named "dup"/);
    expect((await client.getRepo({ id: 'dup' })).id).toBe(repo!.id);
    await expectStatus(client.getRepo({ id: 'nope' }), Status.NOT_FOUND);
    await expectStatus(client.listRepos({ pageSize: -1, pageToken: '' }), Status.INVALID_ARGUMENT);
    await expectStatus(client.listRepos({ pageSize: 1, pageToken: 'garbage!' }), Status.INVALID_ARGUMENT);
  });

  it('pages lists and reports the revision they reflect', async () => {
    for (const name of ['p1', 'p2', 'p3']) {
      await client.addRepo({ path: makeRepo(join(tmp.path, name)), name });
    }
    const seen: string[] = [];
    let token = '';
    do {
      const page = await client.listRepos({ pageSize: 2, pageToken: token });
      expect(page.repos.length).toBeLessThanOrEqual(2);
      seen.push(...page.repos.map((r) => r.name));
      token = page.nextPageToken;
    } while (token);
    expect(seen).toEqual(expect.arrayContaining(['p1', 'p2', 'p3']));
    expect(new Set(seen).size).toBe(seen.length);
    const info = await client.getAgentInfo({});
    expect((await client.listRepos({ pageSize: 0, pageToken: '' })).revision).toBe(info.revision);
  });

  it('streams the backlog then live events, gap-free, and resumes from any retained revision', async () => {
    const start = (await client.getAgentInfo({})).revision;
    const watching = collect(client, start, 3);
    const names = ['w1', 'w2', 'w3'];
    for (const name of names) await client.addRepo({ path: makeRepo(join(tmp.path, name)), name });
    const live = await watching;
    expect(live.map((e) => e.revision)).toEqual([start + 1, start + 2, start + 3]);
    expect(live.map((e) => (e.payload?.$case === 'repo' ? e.payload.value.name : ''))).toEqual(names);
    expect(live.every((e) => e.type === 'repo.added')).toBe(true);

    // Resume from the middle: exactly the rest, in order.
    const resumed = await collect(client, start + 1, 2);
    expect(resumed.map((e) => e.revision)).toEqual([start + 2, start + 3]);
  });

  it('answers OUT_OF_RANGE for a compacted revision, naming the oldest retained', async () => {
    // More events than the retention (4) keeps, so revision 0 is compacted whatever ran before.
    for (const name of ['old1', 'old2', 'old3', 'old4', 'old5']) {
      await client.addRepo({ path: makeRepo(join(tmp.path, name)), name });
    }
    const { oldestRevision, revision } = await client.getAgentInfo({});
    expect(revision - oldestRevision + 1).toBeLessThanOrEqual(4);
    expect(oldestRevision).toBeGreaterThan(1);
    await expectStatus(collect(client, 0, 1), Status.OUT_OF_RANGE, new RegExp(`oldest retained revision is ${oldestRevision}`));
    await expectStatus(collect(client, revision + 10, 1), Status.OUT_OF_RANGE, /ahead/);
  });
});
