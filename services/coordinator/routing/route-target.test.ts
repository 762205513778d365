import { Status } from 'nice-grpc-common';
import { describe, expect, it } from 'vitest';
import type { AgentStatusName } from '../agents/agent-status.js';
import { routeKeysOf } from '../../../wire/agent-methods.js';
import { chooseAgent, resolveKeys, type ResolvedKeys, type RouteAsk, type RouteCandidate } from './route-target.js';

const agent = (
  id: string,
  name: string,
  status: AgentStatusName,
  runningTasks: number,
  labels: Record<string, string> = {},
  repos: string[] = [],
  maxRunningTasks = 0,
): RouteCandidate => ({
  id,
  name,
  labels,
  status,
  lastSeen: new Date('2025-01-01T00:00:00Z'),
  runningTasks,
  maxRunningTasks,
  hasRepo: (repo) => repos.includes(repo),
});

const fleet = [
  agent('agt_a', 'alpha', 'connected', 3, { zone: 'eu' }, ['app', 'rep_app_a']),
  agent('agt_b', 'bravo', 'connected', 1, { zone: 'eu', gpu: 'yes' }, ['app', 'lib']),
  agent('agt_c', 'charlie', 'connected', 1, { zone: 'us' }, ['lib']),
  agent('agt_d', 'delta', 'unknown', 0, { zone: 'us' }, ['app', 'web']),
  agent('agt_e', 'echo', 'disconnected', 0, { zone: 'ap' }, ['web']),
  agent('agt_t1', 'twin', 'connected', 0),
  agent('agt_t2', 'twin', 'connected', 0),
];

const ask = (partial: Partial<RouteAsk> = {}): RouteAsk => ({ agent: '', labels: {}, repos: [], ...partial });
const none: ResolvedKeys = { owners: [], repoNames: [] };

describe('chooseAgent', () => {
  it.each<[string, RouteAsk, ResolvedKeys, string]>([
    ['a named agent, by id', ask({ agent: 'agt_c' }), none, 'agt_c'],
    ['a named agent, by name', ask({ agent: 'charlie' }), none, 'agt_c'],
    ['a named agent wins over the owners of ids', ask({ agent: 'alpha' }), { owners: ['agt_b'], repoNames: [] }, 'agt_a'],
    ['the owner of the ids named', ask(), { owners: ['agt_c'], repoNames: [] }, 'agt_c'],
    ['the owner, when it matches the selector', ask({ labels: { zone: 'us' } }), { owners: ['agt_c'], repoNames: [] }, 'agt_c'],
    ['no constraints: fewest running tasks, ties by name', ask(), none, 'agt_t1'],
    ['labels: fewest running tasks among the matching', ask({ labels: { zone: 'eu' } }), none, 'agt_b'],
    ['has_repo, ties broken by name', ask({ repos: ['lib'] }), none, 'agt_b'],
    ['has_repo skips agents that are not connected', ask({ repos: ['app'] }), none, 'agt_b'],
    ['repo names the request carries narrow the choice', ask(), { owners: [], repoNames: ['app'] }, 'agt_b'],
    ['has_repo and labels together', ask({ repos: ['lib'], labels: { zone: 'us' } }), none, 'agt_c'],
  ])('routes to %s', (_case, request, resolved, expected) => {
    expect(chooseAgent(fleet, request, resolved).id).toBe(expected);
  });

  it.each<[string, RouteAsk, ResolvedKeys, Status, string]>([
    ['an agent nobody knows', ask({ agent: 'zulu' }), none, Status.NOT_FOUND, 'AGENT_NOT_FOUND'],
    ['an ambiguous name', ask({ agent: 'twin' }), none, Status.FAILED_PRECONDITION, 'AMBIGUOUS_AGENT_NAME'],
    ['a named agent that is UNKNOWN', ask({ agent: 'delta' }), none, Status.UNAVAILABLE, 'AGENT_NOT_CONNECTED'],
    ['a named agent that is DISCONNECTED', ask({ agent: 'agt_e' }), none, Status.UNAVAILABLE, 'AGENT_NOT_CONNECTED'],
    [
      'a named agent outside the selector',
      ask({ agent: 'alpha', labels: { zone: 'us' } }),
      none,
      Status.FAILED_PRECONDITION,
      'AGENT_DOES_NOT_MATCH',
    ],
    ['the owner is not connected', ask(), { owners: ['agt_d'], repoNames: [] }, Status.UNAVAILABLE, 'AGENT_NOT_CONNECTED'],
    [
      'the owner is outside the selector',
      ask({ labels: { gpu: 'yes' } }),
      { owners: ['agt_c'], repoNames: [] },
      Status.FAILED_PRECONDITION,
      'AGENT_DOES_NOT_MATCH',
    ],
    ['ids of two agents', ask(), { owners: ['agt_a', 'agt_b'], repoNames: [] }, Status.FAILED_PRECONDITION, 'SPANS_AGENTS'],
    ['nothing matches', ask({ labels: { zone: 'mars' } }), none, Status.FAILED_PRECONDITION, 'NO_MATCHING_AGENT'],
    ['only unreachable agents match', ask({ repos: ['web'] }), none, Status.UNAVAILABLE, 'AGENT_NOT_CONNECTED'],
    [
      'an id the coordinator cannot resolve, no agent named',
      ask(),
      { owners: [], repoNames: [], needsAgent: 'stash ids are not projected' },
      Status.INVALID_ARGUMENT,
      'AGENT_REQUIRED',
    ],
  ])('refuses %s', (_case, request, resolved, code, reason) => {
    let error: unknown;
    try {
      chooseAgent(fleet, request, resolved);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code, reason });
  });

  it('says why an agent is unreachable, with its last-seen time', () => {
    expect(() => chooseAgent(fleet, ask({ agent: 'delta' }), none)).toThrow(/UNKNOWN \(last seen 2025-01-01T00:00:00.000Z\)/);
  });
});

describe('chooseAgent with --max-running-tasks', () => {
  const none: ResolvedKeys = { owners: [], repoNames: [] };
  const ask: RouteAsk = { agent: '', labels: {}, repos: [] };

  it('passes a full agent by, even when it is the least loaded', () => {
    const fleet = [agent('agt_f', 'full', 'connected', 1, {}, [], 1), agent('agt_r', 'roomy', 'connected', 5, {}, [], 8)];
    expect(chooseAgent(fleet, ask, none).name).toBe('roomy');
  });

  it('refuses with RESOURCE_EXHAUSTED when every matching agent is full, with their loads', () => {
    const fleet = [agent('agt_f', 'full', 'connected', 2, {}, [], 2)];
    expect(() => chooseAgent(fleet, ask, none)).toThrow(
      expect.objectContaining({
        code: Status.RESOURCE_EXHAUSTED,
        reason: 'AGENTS_FULL',
        message: expect.stringMatching(/full: 2\/2 running/),
      }),
    );
  });

  it('still sends a call naming its own resource to a full agent (its tasks queue there)', () => {
    const fleet = [agent('agt_f', 'full', 'connected', 2, {}, [], 2)];
    expect(chooseAgent(fleet, ask, { owners: ['agt_f'], repoNames: [] }).name).toBe('full');
  });
});

describe('resolveKeys', () => {
  const owners: Record<string, string[]> = {
    'session:ses_1': ['agt_a'],
    'session:ses_2': ['agt_b'],
    'task:tsk_1': ['agt_a'],
    'repo:rep_app_a': ['agt_a'],
  };
  const lookup = (kind: string, id: string) => owners[`${kind}:${id}`] ?? [];

  it.each<[string, string, Record<string, unknown>, ResolvedKeys]>([
    ['GetSession', 'GetSession', { id: 'ses_1' }, { owners: ['agt_a'], repoNames: [] }],
    ['StartTask by session', 'StartTask', { sessionId: 'ses_2', argv: ['true'] }, { owners: ['agt_b'], repoNames: [] }],
    ['CancelTask', 'CancelTask', { id: 'tsk_1' }, { owners: ['agt_a'], repoNames: [] }],
    [
      'RestoreSessions across agents',
      'RestoreSessions',
      { ids: ['ses_1', 'ses_2'], all: false },
      { owners: ['agt_a', 'agt_b'], repoNames: [] },
    ],
    ['CreateSession by repo id and name', 'CreateSession', { repoIds: ['rep_app_a', 'lib'] }, { owners: ['agt_a'], repoNames: ['lib'] }],
    ['a method with no ids', 'GetAgentInfo', {}, { owners: [], repoNames: [] }],
    ['ListTasks without a session', 'ListTasks', { sessionId: '' }, { owners: [], repoNames: [] }],
  ])('%s', (_case, method, request, expected) => {
    expect(resolveKeys(routeKeysOf(method, request), lookup)).toEqual({ ...expected, needsAgent: undefined });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['KillSession', { id: 'ses_gone' }, 'SESSION_NOT_FOUND'],
    ['GetTask', { id: 'tsk_gone' }, 'TASK_NOT_FOUND'],
    ['GetJob', { id: 'job_gone' }, 'JOB_NOT_FOUND'],
    ['ReleaseLock', { directory: '/nowhere' }, 'LOCK_NOT_FOUND'],
  ])('%s of an id no agent reports is NOT_FOUND', (method, request, reason) => {
    expect(() => resolveKeys(routeKeysOf(method, request), lookup)).toThrow(expect.objectContaining({ code: Status.NOT_FOUND, reason }));
  });

  it('asks for the agent when the request names a stash', () => {
    expect(resolveKeys(routeKeysOf('ApplyStash', { id: 'sta_1' }), lookup).needsAgent).toMatch(/stash/);
  });
});
