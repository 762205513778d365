import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Status } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionActivity, TaskState } from '../gen/grove/agent/v1/resources.js';
import { AgentStatus, GroupMemberState, type Group } from '../gen/grove/coordinator/v1/coordinator_service.js';
import { createCoordinatorClient, type CoordinatorClient } from '../clients/sdk/index.js';
import { grove, json } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient, expectStatus } from './helpers/grpc.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

const TEAMS = ['a', 'b', 'c'] as const;
// Each attempt answers differently (its own task id) and leaves that answer uncommitted.
const ATTEMPT = ['sh', '-c', 'echo "$GROVE_TASK_ID" > answer.txt; echo attempted'];

describe('fan-out groups across agents', () => {
  const tmp = tempDir();
  const coordinatorDir = join(tmp.path, 'coordinator');
  let address = '';
  let coordinator: ServiceProcess;
  const agents: ServiceProcess[] = [];
  let coord: CoordinatorClient;

  async function startCoordinator() {
    coordinator = await startCoordinatorProcess({ dataDir: coordinatorDir, listen: address, extraArgs: ['--heartbeat', '250ms'] });
  }
  const allConnected = async () => {
    const { agents: linked } = await coord.listAgents({});
    const { repos } = await coord.listRepos({});
    return linked.filter((a) => a.status === AgentStatus.AGENT_STATUS_CONNECTED).length === TEAMS.length && repos.length === TEAMS.length
      ? true
      : undefined;
  };

  beforeAll(async () => {
    address = `127.0.0.1:${await freePort()}`;
    await startCoordinator();
    coord = createCoordinatorClient({ address });
    for (const team of TEAMS) {
      const agent = await startAgentProcess({
        dataDir: join(tmp.path, `agent-${team}`),
        extraArgs: ['--coordinator', address, '--name', `agent-${team}`, '--labels', `team=${team}`],
      });
      agents.push(agent);
      const { client, channel } = agentClient(agent.address);
      await client.addRepo({ path: makeRepo(join(tmp.path, `app-${team}`)), name: 'app' });
      channel.close();
    }
    await waitFor(allConnected, 'three agents and their repos');
  });
  afterAll(async () => {
    coord?.close();
    for (const agent of agents) await agent.stop();
    await coordinator?.stop();
    tmp.remove();
  });

  const groupOf = (id: string) => coord.getGroup({ id });
  const allEnded = (id: string) =>
    waitFor(async () => {
      const group = await groupOf(id);
      const created = group.members.filter((m) => m.state === GroupMemberState.GROUP_MEMBER_STATE_CREATED);
      return created.length > 0 && created.every((m) => m.taskState === TaskState.TASK_STATE_SUCCEEDED) ? group : undefined;
    }, `every member of ${id} to succeed`);

  it('spreads three attempts over three agents, compares them, survives a coordinator restart, and picks one to land', async () => {
    const created = json<{ group: Group }>(
      await grove([
        'run',
        '--count',
        '3',
        '--spread',
        '--repo',
        'app',
        '--title',
        'three tries',
        '--json',
        '--coordinator',
        address,
        '--',
        ...ATTEMPT,
      ]),
    ).group;
    expect(new Set(created.members.map((m) => m.agentId)).size).toBe(3);
    expect(created.members.map((m) => m.branch)).toEqual([1, 2, 3].map((i) => `grove/${created.id}-${i}`));

    const done = await allEnded(created.id);
    for (const member of done.members) {
      expect(member).toMatchObject({ exitCode: 0, filesChanged: 1, additions: 1, deletions: 0 });
      expect(member.durationMs).toBeGreaterThan(0);
    }
    const shown = await grove(['group', 'get', created.id, '--coordinator', address]);
    expect(shown.stdout).toMatch(/succeeded\s+idle\s+0\s+[\d.]+s\s+1 files \+1 -0/);

    // The group is the coordinator's own record: it outlives a restart.
    await coordinator.kill();
    await startCoordinator();
    await waitFor(allConnected, 'the agents to relink');
    const listed = await grove(['group', 'ls', '--coordinator', address]);
    expect(listed.stdout).toMatch(new RegExp(`${created.id}\\s+three tries\\s+3/3`));
    expect((await groupOf(created.id)).members.map((m) => m.sessionId)).toEqual(created.members.map((m) => m.sessionId));

    // Keep the first attempt: commit its work, land it; the others are cleaned up, work preserved.
    const [keep, ...others] = created.members;
    expect((await grove(['session', 'commit', keep!.sessionId, '-m', 'the answer', '--coordinator', address])).code).toBe(0);
    const picked = json<{ group: Group }>(
      await grove(['group', 'pick', created.id, keep!.sessionId, '--land', '--json', '--coordinator', address]),
    ).group;
    expect(picked.pickedSessionId).toBe(keep!.sessionId);
    // (--json spells enums by name.)
    expect(picked.members.map((m) => m.state as unknown as string)).toEqual([
      'GROUP_MEMBER_STATE_PICKED',
      'GROUP_MEMBER_STATE_CLEANED_UP',
      'GROUP_MEMBER_STATE_CLEANED_UP',
    ]);
    const waited = await grove(['job', 'wait', picked.landJobId, '--coordinator', address]);
    expect(waited.code, waited.stderr).toBe(0);
    const keptRepo = join(tmp.path, `app-${keep!.agentName.replace('agent-', '')}`);
    expect(readFileSync(join(keptRepo, 'answer.txt'), 'utf8').trim()).toBe(keep!.taskId);
    for (const other of others) {
      const preserved = json<{ preserved: Array<{ sessionId: string; ref: string }> }>(
        await grove(['preserved', 'ls', other.sessionId, '--json', '--coordinator', address]),
      );
      expect(preserved.preserved.map((p) => p.sessionId)).toEqual([other.sessionId]);
      const otherRepo = join(tmp.path, `app-${other.agentName.replace('agent-', '')}`);
      const kept = execFileSync('git', ['for-each-ref', '--format=%(refname)', `refs/grove/preserved/${other.sessionId}/`], {
        cwd: otherRepo,
        encoding: 'utf8',
      });
      expect(kept.trim()).not.toBe('');
      expect(existsSync(join(otherRepo, 'answer.txt'))).toBe(false);
    }

    // A member whose agent is unreachable shows its activity UNKNOWN.
    const away = agents.findIndex((_, i) => `agent-${TEAMS[i]}` === keep!.agentName);
    await agents[away]!.stop();
    const seen = await waitFor(async () => {
      const member = (await groupOf(created.id)).members[0]!;
      return member.activity === SessionActivity.SESSION_ACTIVITY_UNKNOWN ? member : undefined;
    }, 'the kept member to show UNKNOWN');
    expect(seen.sessionId).toBe(keep!.sessionId);
    agents[away] = await startAgentProcess({
      dataDir: join(tmp.path, `agent-${TEAMS[away]}`),
      extraArgs: ['--coordinator', address, '--name', `agent-${TEAMS[away]}`, '--labels', `team=${TEAMS[away]}`],
    });
    await waitFor(allConnected, 'the agent to relink');
  });

  it('reports a member that cannot be created and runs the others; a watch sees the group', async () => {
    // On agent-a a session already holds mix-2: the second member cannot be made there.
    const { client, channel } = agentClient(agents[0]!.address);
    const [repo] = (await client.listRepos({ pageSize: 10, pageToken: '' })).repos;
    await client.createSession({ repoIds: [repo!.id], branch: 'mix-2', base: '', title: '', labels: {}, requestId: '' });
    channel.close();
    const { revision } = await coord.listRepos({});
    const controller = new AbortController();
    const seen: Group[] = [];
    const watching = (async () => {
      for await (const response of coord.watchChanges({ fromRevision: revision, signal: controller.signal })) {
        if (response.change?.$case === 'group') seen.push(response.change.value);
      }
    })().catch(() => undefined);

    const run = await grove([
      'run',
      '--count',
      '2',
      '--where',
      'team=a',
      '--repo',
      'app',
      '--branch-prefix',
      'mix',
      '--coordinator',
      address,
      '--',
      ...ATTEMPT,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/created\s+\S+\s+[\s\S]*failed[\s\S]*mix-2/);
    const id = /created group (\S+)/.exec(run.stdout)![1]!;
    const group = await allEnded(id);
    expect(group.members.map((m) => m.state)).toEqual([
      GroupMemberState.GROUP_MEMBER_STATE_CREATED,
      GroupMemberState.GROUP_MEMBER_STATE_FAILED,
    ]);
    expect(group.members[1]!.error).toMatch(/already checked out/);
    expect(group.members[1]!.sessionId).toBe('');
    await waitFor(() => (seen.some((g) => g.id === id) ? true : undefined), 'the watch to see the group');
    controller.abort();
    await watching;

    // group rm cleans up the member that was made, and forgets the group.
    expect((await grove(['group', 'rm', id, '--coordinator', address])).code).toBe(0);
    await expectStatus(groupOf(id), Status.NOT_FOUND);
  });

  it('keeps one pick however many ask at once; a refused land gives the pick back', async () => {
    const base = { spread: true, labelSelector: '', repos: ['app'], title: '', branchPrefix: '', profile: '', prompt: '', tty: false };
    // The attempts leave answer.txt uncommitted: landing one is refused before anything moves.
    const made = (await coord.createGroup({ ...base, count: 2, argv: ATTEMPT })).group!;
    const [first, second] = (await allEnded(made.id)).members;
    await expectStatus(coord.pickGroup({ groupId: made.id, sessionId: first!.sessionId, land: true }), Status.FAILED_PRECONDITION);
    expect((await groupOf(made.id)).pickedSessionId).toBe('');
    // Two picks of different members at once: exactly one is kept.
    const results = await Promise.allSettled([
      coord.pickGroup({ groupId: made.id, sessionId: first!.sessionId, land: false }),
      coord.pickGroup({ groupId: made.id, sessionId: second!.sessionId, land: false }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(String(refused.reason)).toMatch(/ALREADY_PICKED/);
    const group = await groupOf(made.id);
    const kept = group.members.filter((m) => m.state === GroupMemberState.GROUP_MEMBER_STATE_PICKED);
    expect(kept.map((m) => m.sessionId)).toEqual([group.pickedSessionId]);
    expect(group.members.filter((m) => m.state === GroupMemberState.GROUP_MEMBER_STATE_CLEANED_UP)).toHaveLength(1);
    await coord.deleteGroup({ id: made.id });
  });

  it('refuses bad input clearly and makes nothing', async () => {
    const before = (await coord.listSessions({})).sessions.length;
    const request = {
      count: 0,
      spread: false,
      labelSelector: '',
      repos: ['app'],
      title: '',
      branchPrefix: '',
      argv: ['true'],
      profile: '',
      prompt: '',
      tty: false,
    };
    await expectStatus(coord.createGroup(request), Status.INVALID_ARGUMENT, /count must be between 1 and 20/);
    await expectStatus(coord.createGroup({ ...request, count: 21 }), Status.INVALID_ARGUMENT);
    await expectStatus(coord.createGroup({ ...request, count: 1, argv: [] }), Status.INVALID_ARGUMENT, /what each attempt runs/);
    await expectStatus(coord.createGroup({ ...request, count: 1, repos: [] }), Status.INVALID_ARGUMENT);
    await expectStatus(coord.createGroup({ ...request, count: 1, branchPrefix: 'bad..name' }), Status.INVALID_ARGUMENT);
    await expectStatus(
      coord.createGroup({ ...request, count: 1, labelSelector: 'team=nobody' }),
      Status.FAILED_PRECONDITION,
      /no connected agent/,
    );
    expect((await grove(['run', '--count', '2', '--repo', 'app', '--', 'true'], { env: { GROVE_COORDINATOR: '' } })).code).toBe(2);
    await expectStatus(coord.getGroup({ id: 'grp_nope' }), Status.INVALID_ARGUMENT);
    const made = (await coord.createGroup({ ...request, count: 1 })).group!;
    await allEnded(made.id);
    await expectStatus(
      coord.pickGroup({ groupId: made.id, sessionId: 'ses_01notamember000000000000', land: false }),
      Status.NOT_FOUND,
      /not a member/,
    );
    expect((await coord.listSessions({})).sessions.length).toBe(before + 1);
    await coord.deleteGroup({ id: made.id });
  });
});
