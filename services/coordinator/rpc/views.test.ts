import { describe, expect, it } from 'vitest';
import { SessionActivity, SessionState, type Session } from '../../../gen/grove/agent/v1/resources.js';
import type { AgentRecord } from '../agents/agent-registry.js';
import type { AgentStatusName } from '../agents/agent-status.js';
import { toEventView, toSessionView } from './views.js';

describe('toSessionView', () => {
  const lastSeen = new Date('2025-01-01T00:00:00Z');
  const agent: AgentRecord = {
    id: 'agt_1',
    name: 'box',
    labels: {},
    version: '0.1.0',
    helloRevision: 3,
    firstSeen: lastSeen,
    lastSeen,
    connectedAt: lastSeen,
    disconnectedAt: undefined,
    linkJoined: 'resume',
    linkEnded: '',
    maxRunningTasks: 0,
    freeDiskBytes: 0,
  };
  const session = (activity: SessionActivity): Session => ({
    id: 'ses_1',
    title: '',
    branch: 'b',
    base: 'main',
    state: SessionState.SESSION_STATE_ACTIVE,
    activity,
    worktrees: [],
    labels: {},
    createTime: undefined,
    updateTime: undefined,
    agentId: '',
    lastSeenTime: undefined,
    pendingJobId: '',
    lastError: '',
    landings: [],
    ports: [],
  });

  it.each<[AgentStatusName, SessionActivity, SessionActivity, Date | undefined]>([
    ['connected', SessionActivity.SESSION_ACTIVITY_WORKING, SessionActivity.SESSION_ACTIVITY_WORKING, undefined],
    // A link that is down may hide a finished task or a dead machine: never a stale WORKING.
    ['disconnected', SessionActivity.SESSION_ACTIVITY_WORKING, SessionActivity.SESSION_ACTIVITY_UNKNOWN, lastSeen],
    ['disconnected', SessionActivity.SESSION_ACTIVITY_IDLE, SessionActivity.SESSION_ACTIVITY_UNKNOWN, lastSeen],
    ['unknown', SessionActivity.SESSION_ACTIVITY_WORKING, SessionActivity.SESSION_ACTIVITY_UNKNOWN, lastSeen],
    ['unknown', SessionActivity.SESSION_ACTIVITY_IDLE, SessionActivity.SESSION_ACTIVITY_UNKNOWN, lastSeen],
  ])('agent %s, reported %s -> %s', (status, reported, shown, shownLastSeen) => {
    const view = toSessionView(session(reported), agent, status);
    expect(view.activity).toBe(shown);
    expect(view.lastSeenTime).toEqual(shownLastSeen);
    expect(view.agentId).toBe('agt_1');
  });

  it('never shows WORKING from a projection that is not synced (relinked, snapshot not applied)', () => {
    const view = toSessionView(session(SessionActivity.SESSION_ACTIVITY_WORKING), agent, 'connected', false);
    expect(view.activity).toBe(SessionActivity.SESSION_ACTIVITY_UNKNOWN);
    expect(view.lastSeenTime).toEqual(lastSeen);
  });

  it('shows events the same way: sessions as listed, tasks and jobs with their owner', () => {
    const event = (payload: Parameters<typeof toEventView>[0]['payload']) => ({
      revision: 3,
      type: 't',
      resource: 'r',
      time: undefined,
      deleted: false,
      payload,
    });
    const shown = toEventView(event({ $case: 'session', value: session(SessionActivity.SESSION_ACTIVITY_WORKING) }), agent, 'unknown');
    expect(shown.payload).toMatchObject({
      value: { activity: SessionActivity.SESSION_ACTIVITY_UNKNOWN, agentId: 'agt_1', lastSeenTime: lastSeen },
    });
    const repo = event({
      $case: 'repo',
      value: {
        id: 'rep_1',
        name: 'r',
        path: '/r',
        defaultBranch: 'main',
        createTime: undefined,
        keepIgnored: [],
        setup: '',
        teardown: '',
        copy: [],
      },
    });
    expect(toEventView(repo, agent, 'connected')).toBe(repo);
  });
});
