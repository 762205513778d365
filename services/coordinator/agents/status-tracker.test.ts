import { describe, expect, it } from 'vitest';
import type { AgentStatusName } from './agent-status.js';
import { crossesConnected, StatusTracker } from './status-tracker.js';

describe('crossesConnected', () => {
  it.each<[AgentStatusName | undefined, AgentStatusName, boolean]>([
    [undefined, 'unknown', false],
    ['connected', 'disconnected', true],
    ['disconnected', 'unknown', false],
    ['connected', 'unknown', true],
    ['unknown', 'connected', true],
    ['disconnected', 'connected', true],
    ['unknown', 'disconnected', false],
    ['unknown', 'unknown', false],
  ])('%s -> %s: %s', (previous, status, expected) => {
    expect(crossesConnected(previous, status)).toBe(expected);
  });
});

describe('StatusTracker', () => {
  it('announces changes only, unless forced', () => {
    const tracker = new StatusTracker();
    tracker.seed('a', 'unknown');
    expect(tracker.update('a', 'unknown')).toBeUndefined();
    expect(tracker.update('a', 'connected')).toEqual({ previous: 'unknown', status: 'connected', sessionsChanged: true });
    expect(tracker.update('a', 'connected')).toBeUndefined();
    expect(tracker.update('a', 'connected', true)).toEqual({ previous: 'connected', status: 'connected', sessionsChanged: false });
    expect(tracker.update('b', 'connected')).toEqual({ previous: undefined, status: 'connected', sessionsChanged: false });
  });
});
