import { describe, expect, it } from 'vitest';
import type { RouteCandidate } from '../routing/route-target.js';
import { placeMembers } from './placement.js';

const agent = (name: string, runningTasks: number, extra: Partial<RouteCandidate> = {}): RouteCandidate => ({
  id: `agt_${name}`,
  name,
  labels: {},
  status: 'connected',
  lastSeen: new Date(0),
  runningTasks,
  maxRunningTasks: 0,
  hasRepo: () => true,
  ...extra,
});
const ask = { agent: '', labels: {}, repos: ['app'] };
const names = (placed: RouteCandidate[]) => placed.map((c) => c.name);

describe('placeMembers', () => {
  it('spreads over distinct agents, least loaded first, then comes round again', () => {
    const fleet = [agent('a', 2), agent('b', 0), agent('c', 1)];
    expect(names(placeMembers(fleet, 3, true, ask))).toEqual(['b', 'c', 'a']);
    expect(names(placeMembers(fleet, 5, true, ask))).toEqual(['b', 'c', 'a', 'b', 'c']);
  });

  it('without spread, puts every member on the least loaded agent', () => {
    expect(names(placeMembers([agent('a', 2), agent('b', 0)], 3, false, ask))).toEqual(['b', 'b', 'b']);
  });

  it('skips agents that are not connected, do not match the selector, or lack a repo', () => {
    const fleet = [
      agent('gone', 0, { status: 'unknown' }),
      agent('other-team', 0, { labels: { team: 'b' } }),
      agent('no-repo', 0, { labels: { team: 'a' }, hasRepo: () => false }),
      agent('ok', 5, { labels: { team: 'a' } }),
    ];
    expect(names(placeMembers(fleet, 2, true, { ...ask, labels: { team: 'a' } }))).toEqual(['ok', 'ok']);
  });

  it('passes by a full agent (at its --max-running-tasks)', () => {
    const fleet = [agent('full', 0, { maxRunningTasks: 2, runningTasks: 2 }), agent('busy', 9), agent('room', 1, { maxRunningTasks: 4 })];
    expect(names(placeMembers(fleet, 3, true, ask))).toEqual(['room', 'busy', 'room']);
  });

  it('refuses when no agent may take a member, saying what was asked', () => {
    expect(() => placeMembers([agent('a', 0, { status: 'disconnected' })], 1, true, { ...ask, labels: { team: 'x' } })).toThrow(
      /no connected agent with room for a task matches team=x, repo app/,
    );
  });
});
