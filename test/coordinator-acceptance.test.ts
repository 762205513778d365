import { writeFileSync } from 'node:fs';
import { gatedTask } from './helpers/fixtures.js';
import { join } from 'node:path';
import { createChannel, createClient, Metadata, Status, type Channel } from 'nice-grpc';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AddRepoRequest,
  AddRepoResponse,
  AgentInfo,
  AgentServiceDefinition,
  CreateSessionRequest,
  CreateSessionResponse,
  GetAgentInfoRequest,
  GetRepoRequest,
  GetSessionRequest,
  KillSessionRequest,
  KillSessionResponse,
  RemoveRepoRequest,
  RemoveRepoResponse,
  StartTaskRequest,
  StartTaskResponse,
  WatchEventsRequest,
  type AgentServiceClient,
} from '../gen/grove/agent/v1/agent_service.js';
import { Session, SessionActivity, SessionState, TaskState } from '../gen/grove/agent/v1/resources.js';
import {
  AgentStatus,
  CoordinatorServiceDefinition,
  type CoordinatorServiceClient,
  type RouteRequest,
  type WatchRequest,
  type WatchResponse,
} from '../gen/grove/coordinator/v1/coordinator_service.js';
import { freePort } from './helpers/free-port.js';
import { makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

// Status timings shortened so UNKNOWN comes within seconds; the slow watcher's buffer is
// small so a few hundred changes overflow it.
const TTL_MS = 2000;
const COORDINATOR_ARGS = ['--heartbeat', '200ms', '--agent-grace', '1s', '--agent-ttl', '2s', '--watch-buffer', '64'];
const gated = gatedTask('go', 'ok');

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
}
interface Decoder<T> {
  decode(input: Uint8Array): T;
}

/**
 * Reads a watch in the background, keeping every response and how the stream ended, so a
 * test can check what arrived without racing the stream.
 */
class WatchRecorder {
  readonly responses: WatchResponse[] = [];
  error: { code?: Status; details?: string } | undefined;
  trailer: Metadata | undefined;
  ended = false;
  private readonly abort = new AbortController();

  constructor(client: CoordinatorServiceClient, request: Partial<WatchRequest>) {
    const stream = client.watch(request, { signal: this.abort.signal, onTrailer: (t) => (this.trailer = t) });
    void (async () => {
      try {
        for await (const response of stream) this.responses.push(response);
      } catch (err) {
        this.error = err as { code?: Status; details?: string };
      } finally {
        this.ended = true;
      }
    })();
  }

  /** Revisions of the changes after the initial snapshot, in arrival order. */
  changes(): number[] {
    const done = this.responses.findIndex((r) => r.snapshotDone);
    return this.responses.slice(done + 1).map((r) => r.revision);
  }

  get last(): number {
    return this.responses[this.responses.length - 1]?.revision ?? 0;
  }

  stop(): void {
    this.abort.abort();
  }
}

/** Each revision exactly once, in order, with no gap: what an unfiltered watch must deliver. */
function expectContiguous(revisions: number[], after: number): void {
  const expected = Array.from({ length: revisions.length }, (_, i) => after + 1 + i);
  expect(revisions).toEqual(expected);
}

/** Repo names per agent, folded from a watch's snapshot and events. */
function reposFrom(responses: WatchResponse[]): Map<string, Map<string, string>> {
  const byAgent = new Map<string, Map<string, string>>();
  for (const response of responses) {
    const payload = response.change?.$case === 'event' ? response.change.value.payload : undefined;
    if (payload?.$case !== 'repo') continue;
    const repos = byAgent.get(response.agentId) ?? new Map<string, string>();
    byAgent.set(response.agentId, repos);
    if (response.change?.$case === 'event' && response.change.value.deleted) repos.delete(payload.value.id);
    else repos.set(payload.value.id, payload.value.name);
  }
  return byAgent;
}

describe('coordinator acceptance: three agents, routing, faults, backpressure', () => {
  const tmp = tempDir();
  const coordinatorDir = join(tmp.path, 'coordinator');
  const channels: Channel[] = [];
  const recorders: WatchRecorder[] = [];
  let address: string;
  let coordinator: ServiceProcess | undefined;
  let client: CoordinatorServiceClient;
  const agents = new Map<string, { process: ServiceProcess; id: string; client: AgentServiceClient; args: string[] }>();
  const agentArgs: Record<string, string[]> = {
    ash: ['--labels', 'zone=eu,gpu=yes'],
    birch: ['--labels', 'zone=eu'],
    cedar: ['--labels', 'zone=us'],
  };
  /** Each test's own fast watcher, started before it runs. */
  let fast: WatchRecorder;

  const connect = (target: string, options?: Record<string, unknown>) => {
    const channel = createChannel(target, undefined, options);
    channels.push(channel);
    return channel;
  };
  const startCoordinator = async () => {
    coordinator = await startCoordinatorProcess({ dataDir: coordinatorDir, extraArgs: ['--listen', address, ...COORDINATOR_ARGS] });
  };
  const startAgent = async (name: string, args: string[]) => {
    const process = await startAgentProcess({
      dataDir: join(tmp.path, name),
      extraArgs: ['--coordinator', address, '--name', name, ...args],
    });
    const agentClient = createClient(AgentServiceDefinition, connect(process.address));
    const { id } = await agentClient.getAgentInfo({});
    agents.set(name, { process, id, client: agentClient, args });
  };
  const agentId = (name: string) => agents.get(name)!.id;
  const watch = (request: Partial<WatchRequest>) => {
    const recorder = new WatchRecorder(client, request);
    recorders.push(recorder);
    return recorder;
  };

  /** Route one call, encoding the request and decoding the answer. */
  async function route<Req, Res>(
    method: string,
    codec: Codec<Req>,
    request: Req,
    decoder: Decoder<Res>,
    extra: Partial<RouteRequest> = {},
  ): Promise<{ agentId: string; agentName: string; body: Res }> {
    const response = await client.route({ method, request: Buffer.from(codec.encode(request).finish()), ...extra });
    return { agentId: response.agentId, agentName: response.agentName, body: decoder.decode(response.response) };
  }
  /** A routed call expected to fail: its code, reason trailer, details and how long it took. */
  async function routeFailure(method: string, request: Uint8Array, extra: Partial<RouteRequest> = {}) {
    let trailer: Metadata | undefined;
    const started = Date.now();
    const error = await client.route({ method, request: Buffer.from(request), ...extra }, { onTrailer: (t) => (trailer = t) }).then(
      () => undefined,
      (err: { code: Status; details: string }) => err,
    );
    expect(error, `${method} should have failed`).toBeDefined();
    return { code: error!.code, details: error!.details, reason: trailer?.get('grove-reason'), tookMs: Date.now() - started };
  }
  const newestRevision = async () => (await client.listAgents({})).revision;
  const gone = (service: ServiceProcess | undefined) => !service || service.child.exitCode !== null || service.child.signalCode !== null;

  /**
   * The coordinator and the three agents up and linked, whatever an earlier test did to
   * them (a test that kills one restarts it, but not if it fails half-way).
   */
  async function ensureRunning(): Promise<void> {
    if (gone(coordinator)) await startCoordinator();
    await Promise.all(
      Object.entries(agentArgs)
        .filter(([name]) => gone(agents.get(name)?.process))
        .map(([name, args]) => startAgent(name, args)),
    );
    await waitFor(async () => {
      const { agents: listed } = await client.listAgents({ status: AgentStatus.AGENT_STATUS_CONNECTED });
      return listed.length === 3 || undefined;
    }, 'three agents to link');
  }

  beforeAll(async () => {
    address = `127.0.0.1:${await freePort()}`;
    client = createClient(CoordinatorServiceDefinition, connect(address));
    await ensureRunning();
  });
  beforeEach(async () => {
    await ensureRunning();
    // The fast watcher: from the state now, every change after it, read as it comes.
    fast = watch({ initialSnapshot: true });
    await waitFor(() => fast.responses.some((r) => r.snapshotDone) || undefined, 'the initial snapshot');
  });
  afterEach(() => {
    for (const recorder of recorders.splice(0)) recorder.stop();
  });
  afterAll(async () => {
    for (const recorder of recorders) recorder.stop();
    for (const channel of channels) channel.close();
    await Promise.all([...agents.values()].map((agent) => agent.process.stop()));
    await coordinator?.stop();
    tmp.remove();
  });

  it('routes commands by name, selector and id, and lists across agents with filters and pages', async () => {
    /** Sessions created through Route, by name. */
    const sessions = new Map<string, Session>();
    const repoIds = new Set<string>();
    for (const [name, repos] of [
      ['ash', ['app']],
      ['birch', ['app', 'lib']],
      ['cedar', ['lib']],
    ] as const) {
      for (const repo of repos) {
        const added = await route(
          'AddRepo',
          AddRepoRequest,
          { path: makeRepo(join(tmp.path, 'src', name, repo)), name: repo, keepIgnored: [], setup: '', teardown: '', copy: [] },
          AddRepoResponse,
          { agent: name },
        );
        expect(added.agentId).toBe(agentId(name));
        repoIds.add(added.body.repo!.id);
      }
    }
    await waitFor(
      async () => (await client.listRepos({})).repos.filter((r) => repoIds.has(r.repo!.id)).length === 4 || undefined,
      'four repos projected',
    );

    const create = async (branch: string, extra: Partial<RouteRequest>, labels: Record<string, string> = {}) => {
      const request = CreateSessionRequest.fromPartial({ branch, base: 'main', title: branch, labels });
      const created = await route('CreateSession', CreateSessionRequest, request, CreateSessionResponse, extra);
      sessions.set(branch, created.body.session!);
      return created;
    };
    // has_repo alone: the repo fills repo_ids; ash and birch tie on load, so by name: ash.
    expect((await create('s-app-1', { hasRepo: 'app' }, { team: 'red' })).agentName).toBe('ash');
    // Labels narrow the choice; the label selector and has_repo combine.
    expect((await create('s-lib-us', { hasRepo: 'lib', labelSelector: 'zone=us' })).agentName).toBe('cedar');
    expect((await create('s-lib-eu', { hasRepo: 'lib', labelSelector: 'zone=eu' })).agentName).toBe('birch');
    // A repo name in the request itself narrows the choice like has_repo.
    const byName = await route(
      'CreateSession',
      CreateSessionRequest,
      CreateSessionRequest.fromPartial({ repoIds: ['lib'], branch: 's-lib-2', base: 'main', title: 's-lib-2', labels: { team: 'blue' } }),
      CreateSessionResponse,
      { labelSelector: 'zone=eu' },
    );
    expect(byName.agentName).toBe('birch');
    sessions.set('s-lib-2', byName.body.session!);
    expect((await create('s-gpu', { labelSelector: 'gpu=yes', hasRepo: 'app' })).agentName).toBe('ash');

    // Other tests may have made sessions of their own: this one looks at the five it made.
    const mine = new Set([...sessions.values()].map((s) => s.id));
    const ownOf = (listed: Session[]) => listed.filter((s) => mine.has(s.id));
    await waitFor(async () => ownOf((await client.listSessions({})).sessions).length === 5 || undefined, 'five sessions projected');
    const everything = (await client.listSessions({})).sessions;
    const all = ownOf(everything);
    expect(all.map((s) => s.id)).toEqual([...sessions.values()].map((s) => s.id).sort());
    expect(new Set(all.map((s) => s.agentId))).toEqual(new Set([agentId('ash'), agentId('birch'), agentId('cedar')]));

    // Filters: agent (by name), repo (by name), labels, state.
    const ids = async (request: Parameters<CoordinatorServiceClient['listSessions']>[0]) =>
      ownOf((await client.listSessions(request)).sessions)
        .map((s) => s.title)
        .sort();
    expect(await ids({ agent: 'birch' })).toEqual(['s-lib-2', 's-lib-eu']);
    expect(await ids({ repo: 'lib' })).toEqual(['s-lib-2', 's-lib-eu', 's-lib-us']);
    expect(await ids({ repo: 'app', labelSelector: 'team=red' })).toEqual(['s-app-1']);
    expect(await ids({ state: SessionState.SESSION_STATE_ACTIVE, agent: 'ash' })).toEqual(['s-app-1', 's-gpu']);
    expect(await ids({ state: SessionState.SESSION_STATE_ARCHIVED })).toEqual([]);
    expect(await ids({ agent: 'nobody' })).toEqual([]);
    expect((await client.listAgents({ labelSelector: 'zone=eu' })).agents.map((a) => a.name).sort()).toEqual(['ash', 'birch']);

    // Pages of two, both orders: every session once, in id order.
    for (const orderBy of ['', 'id desc']) {
      const paged: string[] = [];
      let pageToken = '';
      do {
        const page = await client.listSessions({ pageSize: 2, pageToken, orderBy });
        expect(page.sessions.length).toBeLessThanOrEqual(2);
        paged.push(...page.sessions.map((s) => s.id));
        pageToken = page.nextPageToken;
      } while (pageToken);
      const sorted = everything.map((s) => s.id);
      expect(paged).toEqual(orderBy ? [...sorted].reverse() : sorted);
    }
    const first = await client.listSessions({ pageSize: 2 });
    await expect(client.listSessions({ pageSize: 2, pageToken: first.nextPageToken, orderBy: 'id desc' })).rejects.toMatchObject({
      code: Status.INVALID_ARGUMENT,
    });

    // Ids route by themselves: no agent named, the owner of the session answers.
    const lib2 = sessions.get('s-lib-2')!;
    const got = await route('GetSession', GetSessionRequest, { id: lib2.id }, Session);
    expect(got).toMatchObject({ agentName: 'birch', body: { id: lib2.id, branch: 's-lib-2' } });
    const killed = await route('KillSession', KillSessionRequest, { id: lib2.id }, KillSessionResponse);
    expect(killed.agentName).toBe('birch');
    expect(killed.body.freed).toBe(true);
    await waitFor(
      async () => (await client.getSession({ id: lib2.id })).state !== SessionState.SESSION_STATE_ACTIVE || undefined,
      'the kill to be projected',
    );

    // Errors: an unknown id, a streaming method, and an agent's own error passed through.
    const unknownId = await routeFailure('KillSession', KillSessionRequest.encode({ id: 'ses_00000000000000000000zz' }).finish());
    expect(unknownId).toMatchObject({ code: Status.NOT_FOUND, reason: 'SESSION_NOT_FOUND' });
    const streaming = await routeFailure('WatchEvents', WatchEventsRequest.encode({ afterRevision: 0 }).finish(), { agent: 'ash' });
    expect(streaming).toMatchObject({ code: Status.INVALID_ARGUMENT, reason: 'STREAMING_NOT_ROUTABLE' });
    expect(streaming.details).toMatch(/WatchEvents streams/);
    const agentError = await routeFailure('GetRepo', GetRepoRequest.encode({ id: 'no-such-repo' }).finish(), { agent: 'cedar' });
    const direct = await agents
      .get('cedar')!
      .client.getRepo({ id: 'no-such-repo' })
      .then(
        () => undefined,
        (err: { code: Status; details: string }) => err,
      );
    expect(agentError).toMatchObject({ code: direct!.code, details: direct!.details, reason: 'REPO_NOT_FOUND' });
    expect((await routeFailure('GetAgentInfo', new Uint8Array(), { agent: 'nobody' })).code).toBe(Status.NOT_FOUND);
  });

  it('cuts off a watcher that does not read, with RESOURCE_EXHAUSTED, while a fast one receives every change', async () => {
    const from = await newestRevision();
    // Its own connection with a small HTTP/2 window, so the transport cannot soak up the
    // backlog: what it does not read piles up in the coordinator's accounting.
    const slowClient = createClient(CoordinatorServiceDefinition, connect(address, { 'grpc-node.flow_control_window': 1024 }));
    let slowTrailer: Metadata | undefined;
    const slow = slowClient.watch({ fromRevision: from }, { onTrailer: (t) => (slowTrailer = t) })[Symbol.asyncIterator]();
    const pending = slow.next(); // sends the request; nothing more is read until the cut

    // Changes until the fast watcher has seen four times the watch buffer (64) of them: the
    // slow one, reading nothing behind a 1 KiB window, is over its buffer by then.
    const ash = agents.get('ash')!;
    const path = makeRepo(join(tmp.path, 'src', 'churn'));
    let rounds = 0;
    while (fast.last - from < 4 * 64) {
      expect(++rounds, 'the fast watcher stopped receiving changes').toBeLessThan(400);
      await ash.client.addRepo({ path, name: 'churn' });
      await ash.client.removeRepo({ id: 'churn' });
    }
    const newest = await newestRevision();
    await waitFor(() => fast.last >= newest || undefined, 'the fast watcher to catch up');
    expectContiguous(fast.changes(), fast.responses.find((r) => r.snapshotDone)!.revision);

    // Now read the slow one: everything it was sent, then the error naming the last of it.
    const received: number[] = [];
    let error: { code?: Status; details?: string } | undefined;
    try {
      let next = await pending;
      while (!next.done) {
        received.push(next.value.revision);
        next = await slow.next();
      }
    } catch (err) {
      error = err as { code?: Status; details?: string };
    }
    expect(error?.code).toBe(Status.RESOURCE_EXHAUSTED);
    const last = received[received.length - 1]!;
    expectContiguous(received, from);
    expect(last).toBeLessThan(newest);
    expect(slowTrailer?.get('grove-reason')).toBe('SLOW_SUBSCRIBER');
    expect(slowTrailer?.get('grove-last-revision')).toBe(String(last));
    expect(error?.details).toContain(`the last revision delivered was ${last}`);

    // It resumes from there: the rest, once each, in order.
    const resumed = watch({ fromRevision: last });
    await waitFor(() => resumed.last >= newest || undefined, 'the resumed watch to catch up');
    expectContiguous(resumed.changes(), last);
    resumed.stop();
  });

  it('an agent killed mid-task turns UNKNOWN within the TTL, never WORKING; its restart brings back the truth', async () => {
    // A session of its own on birch, made through Route and projected before the task.
    const repo = await route(
      'AddRepo',
      AddRepoRequest,
      { path: makeRepo(join(tmp.path, 'src', 'birch', 'crash')), name: 'crash', keepIgnored: [], setup: '', teardown: '', copy: [] },
      AddRepoResponse,
      { agent: 'birch' },
    );
    const created = await route(
      'CreateSession',
      CreateSessionRequest,
      CreateSessionRequest.fromPartial({ repoIds: [repo.body.repo!.id], branch: 's-crash', base: 'main', title: 's-crash' }),
      CreateSessionResponse,
      { agent: 'birch' },
    );
    expect(created.agentName).toBe('birch');
    const session = created.body.session!;
    await waitFor(async () => (await client.getSession({ id: session.id })).id === session.id || undefined, 'the session projected');
    // Routed by the session id alone.
    const started = await route(
      'StartTask',
      StartTaskRequest,
      StartTaskRequest.fromPartial({ sessionId: session.id, argv: gated }),
      StartTaskResponse,
    );
    expect(started.agentName).toBe('birch');
    const taskId = started.body.task!.id;
    await waitFor(async () => {
      const { tasks } = await client.listTasks({ sessionId: session.id, state: TaskState.TASK_STATE_RUNNING });
      const shown = await client.getSession({ id: session.id });
      return (tasks.length === 1 && shown.activity === SessionActivity.SESSION_ACTIVITY_WORKING) || undefined;
    }, 'the task RUNNING and the session WORKING');
    expect((await client.getAgent({ agent: 'birch' })).runningTasks).toBe(1);

    const birch = agents.get('birch')!;
    await birch.process.kill();
    const killedAt = Date.now();
    // Disconnected or unknown, the agent answers UNAVAILABLE at once, not after the deadline.
    const byName = await routeFailure('GetAgentInfo', GetAgentInfoRequest.encode({}).finish(), { agent: 'birch', timeoutMs: 30_000 });
    expect(byName).toMatchObject({ code: Status.UNAVAILABLE, reason: expect.stringMatching(/AGENT_NOT_CONNECTED|LINK_CLOSED/) });
    expect(byName.tookMs).toBeLessThan(2000);

    // While the agent is UNKNOWN its sessions are never shown WORKING. A list taken between
    // two UNKNOWN readings of the agent was answered while it was UNKNOWN.
    const shownWhileUnknown: Session[] = [];
    const observe = async () => {
      const before = await client.getAgent({ agent: 'birch' });
      const { sessions: listed } = await client.listSessions({ agent: 'birch' });
      const after = await client.getAgent({ agent: 'birch' });
      const unknown = before.status === AgentStatus.AGENT_STATUS_UNKNOWN && after.status === AgentStatus.AGENT_STATUS_UNKNOWN;
      if (unknown) shownWhileUnknown.push(...listed);
      return { unknown, after, listed };
    };
    const unknown = await waitFor(async () => {
      const seen = await observe();
      return seen.unknown ? seen : undefined;
    }, 'birch to turn UNKNOWN');
    expect(Date.now() - killedAt).toBeLessThan(TTL_MS + 1500);
    expect(unknown.listed.find((s) => s.id === session.id)).toMatchObject({
      activity: SessionActivity.SESSION_ACTIVITY_UNKNOWN,
      lastSeenTime: unknown.after.lastSeenTime,
    });
    // Watchers are told too: the agent change, then its sessions re-shown as UNKNOWN.
    await waitFor(
      () =>
        fast.responses.some(
          (r) =>
            r.change?.$case === 'agent' &&
            r.change.value.id === unknown.after.id &&
            r.change.value.status === AgentStatus.AGENT_STATUS_UNKNOWN,
        ) || undefined,
      'the UNKNOWN agent change',
    );
    const reshown = await waitFor(
      () =>
        fast.responses.find(
          (r) =>
            r.change?.$case === 'event' &&
            r.change.value.type === 'session.agent_unknown' &&
            r.change.value.resource === `sessions/${session.id}`,
        ),
      'the session re-shown',
    );
    expect(
      reshown.change?.$case === 'event' && reshown.change.value.payload?.$case === 'session' && reshown.change.value.payload.value.activity,
    ).toBe(SessionActivity.SESSION_ACTIVITY_UNKNOWN);

    const byId = await routeFailure('GetSession', GetSessionRequest.encode({ id: session.id }).finish(), { timeoutMs: 30_000 });
    expect(byId).toMatchObject({ code: Status.UNAVAILABLE, reason: 'AGENT_NOT_CONNECTED' });
    expect(byId.details).toMatch(/UNKNOWN \(last seen/);
    expect(byId.tookMs).toBeLessThan(2000);

    // Restarted, the agent re-adopts the run (still going: its runner survived), and the
    // coordinator shows that truth, then the end of the task once the gate opens.
    const restarted = startAgent('birch', birch.args);
    await waitFor(async () => {
      const seen = await observe();
      const shown = seen.listed.find((s) => s.id === session.id);
      return (
        (seen.after.status === AgentStatus.AGENT_STATUS_CONNECTED && shown?.activity === SessionActivity.SESSION_ACTIVITY_WORKING) ||
        undefined
      );
    }, 'birch back, the session WORKING');
    await restarted;
    expect(shownWhileUnknown.length).toBeGreaterThan(0);
    expect(shownWhileUnknown.filter((s) => s.activity !== SessionActivity.SESSION_ACTIVITY_UNKNOWN)).toEqual([]);
    // The watch says the same, in order: from birch's UNKNOWN change to its next agent
    // change, no event shows one of its sessions WORKING.
    const birchChanges = fast.responses.filter((r) => r.agentId === unknown.after.id);
    const wentUnknown = birchChanges.findIndex(
      (r) => r.change?.$case === 'agent' && r.change.value.status === AgentStatus.AGENT_STATUS_UNKNOWN,
    );
    const cameBack = birchChanges.findIndex((r, i) => i > wentUnknown && r.change?.$case === 'agent');
    expect(cameBack).toBeGreaterThan(wentUnknown);
    const working = birchChanges
      .slice(wentUnknown, cameBack)
      .filter(
        (r) =>
          r.change?.$case === 'event' &&
          r.change.value.payload?.$case === 'session' &&
          r.change.value.payload.value.activity === SessionActivity.SESSION_ACTIVITY_WORKING,
      );
    expect(working).toEqual([]);
    writeFileSync(join(session.worktrees[0]!.path, 'go'), '');
    const done = await waitFor(async () => {
      const { tasks } = await client.listTasks({ sessionId: session.id });
      return tasks.find((t) => t.id === taskId && t.state === TaskState.TASK_STATE_SUCCEEDED);
    }, 'the task to succeed');
    expect(done.outputTail).toBe('ok\n');
    await waitFor(
      async () => (await client.getSession({ id: session.id })).activity === SessionActivity.SESSION_ACTIVITY_IDLE || undefined,
      'the session IDLE',
    );
  });

  it('a coordinator killed and restarted: agents relink, and a watcher resumes without losing a change', async () => {
    // Exactly once, in order, within this coordinator's life.
    const snapshotRevision = fast.responses.find((r) => r.snapshotDone)!.revision;
    const newest = await newestRevision();
    await waitFor(() => fast.last >= newest || undefined, 'the fast watcher to catch up');
    expectContiguous(fast.changes(), snapshotRevision);
    const lastBeforeCrash = fast.last;

    await coordinator!.kill();
    await waitFor(() => fast.ended || undefined, 'the watch to break');
    expect(fast.error?.code).toBe(Status.UNAVAILABLE);
    // Changes while no coordinator is up.
    const ash = agents.get('ash')!;
    await ash.client.addRepo({ path: makeRepo(join(tmp.path, 'src', 'while-down')), name: 'while-down' });
    await startCoordinator();
    await waitFor(
      async () => (await client.listAgents({ status: AgentStatus.AGENT_STATUS_CONNECTED })).agents.length === 3 || undefined,
      'all three agents to relink',
    );

    // A revision of the previous coordinator is refused, naming it: re-list and watch again.
    const stale = watch({ fromRevision: lastBeforeCrash });
    await waitFor(() => stale.ended || undefined, 'the stale watch to be refused');
    expect(stale.error?.code).toBe(Status.OUT_OF_RANGE);
    expect(stale.trailer?.get('grove-reason')).toBe('REVISION_COMPACTED');
    expect(stale.trailer?.get('grove-last-revision')).toBe(String(lastBeforeCrash));

    // Re-watching with a snapshot loses nothing: the projection folded from it matches every
    // agent's own state, including the change made while the coordinator was down.
    const again = watch({ initialSnapshot: true });
    const truth = async () => {
      const expected = new Map<string, string[]>();
      for (const agent of agents.values()) {
        expected.set(agent.id, (await agent.client.listRepos({})).repos.map((r) => r.name).sort());
      }
      return expected;
    };
    const expected = await truth();
    expect(expected.get(ash.id)).toContain('while-down');
    await waitFor(() => {
      const folded = reposFrom(again.responses);
      return (
        [...expected].every(([id, names]) => JSON.stringify([...(folded.get(id)?.values() ?? [])].sort()) === JSON.stringify(names)) ||
        undefined
      );
    }, 'the re-watched state to match the agents');

    // Within the new life: changes arrive exactly once, in order; a watch cut short resumes
    // from the last revision it saw with nothing lost and nothing repeated.
    const snapshotDone = again.responses.find((r) => r.snapshotDone)!.revision;
    await route('RemoveRepo', RemoveRepoRequest, { id: 'while-down' }, RemoveRepoResponse, { agent: 'ash' });
    await route('GetAgentInfo', GetAgentInfoRequest, {}, AgentInfo, { agent: 'cedar' });
    await waitFor(() => reposFrom(again.responses).get(ash.id)?.size === expected.get(ash.id)!.length - 1 || undefined, 'the removal');
    again.stop();
    await waitFor(() => again.ended || undefined, 'the watch to stop');
    const cutAt = again.last;
    const resumed = watch({ fromRevision: cutAt });
    await ash.client.addRepo({ path: makeRepo(join(tmp.path, 'src', 'after-resume')), name: 'after-resume' });
    const newestNow = await waitFor(async () => {
      const revision = await newestRevision();
      return resumed.last >= revision && revision > cutAt ? revision : undefined;
    }, 'the resumed watch to catch up');
    expectContiguous([...again.changes(), ...resumed.changes()], snapshotDone);
    expect(resumed.last).toBe(newestNow);
  });
});
