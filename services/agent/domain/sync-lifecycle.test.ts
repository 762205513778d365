import { describe, expect, it } from 'vitest';
import {
  ALL_CONDITIONS,
  ALL_SYNC_STATES,
  causeFor,
  isTransitionSafe,
  type CheckoutCondition,
  type SyncStateName,
} from './sync-lifecycle.js';

// Every cell of (from, to, condition), written out: S = safe, - = unsafe (or not a transition).
// Columns: clean dirty untracked_only rebasing merging cherry_picking reverting bisecting detached other_branch diverged
const TABLE: Record<`${SyncStateName}->${SyncStateName}`, string> = {
  'OFF->OFF': '- - - - - - - - - - -',
  'OFF->SYNCING': 'S S S - - - - - S S S',
  'OFF->PAUSED': '- - - - - - - - - - -',
  'SYNCING->OFF': 'S S S S S S S S S S S',
  'SYNCING->SYNCING': 'S S S - - - - - - - -',
  'SYNCING->PAUSED': 'S S S S S S S S S S S',
  'PAUSED->OFF': 'S S S S S S S S S S S',
  'PAUSED->SYNCING': 'S S S - - - - - - - -',
  'PAUSED->PAUSED': '- - - - - - - - - - -',
};

describe('isTransitionSafe covers every transition against every git state', () => {
  const cells: Array<[SyncStateName, SyncStateName, CheckoutCondition, boolean]> = [];
  for (const from of ALL_SYNC_STATES) {
    for (const to of ALL_SYNC_STATES) {
      const row = TABLE[`${from}->${to}`].split(' ');
      expect(row).toHaveLength(ALL_CONDITIONS.length);
      ALL_CONDITIONS.forEach((condition, i) => cells.push([from, to, condition, row[i] === 'S']));
    }
  }
  it('has 99 cells', () => expect(cells).toHaveLength(3 * 3 * 11));
  it.each(cells)('%s -> %s when %s: safe=%s', (from, to, condition, safe) => {
    expect(isTransitionSafe(from, to, condition)).toBe(safe);
  });
});

describe('causeFor', () => {
  const context = { checkout: '/c', syncBranch: 'grove/sync/s', branch: 'main', sessionBranch: 'feat' };
  it('explains every pausing condition in words a user can act on', () => {
    for (const condition of ALL_CONDITIONS) {
      const cause = causeFor(condition, context);
      if (['clean', 'dirty', 'untracked_only'].includes(condition)) expect(cause).toBeUndefined();
      else expect(cause).toMatch(/:/);
    }
    expect(causeFor('other_branch', context)).toBe('/c is on branch main, not grove/sync/s: check out grove/sync/s again to resume');
  });
});
