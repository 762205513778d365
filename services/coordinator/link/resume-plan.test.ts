import { describe, expect, it } from 'vitest';
import { planResume, type ProjectionState, type ResumePlan } from './resume-plan.js';

describe('planResume', () => {
  it.each<[string, ProjectionState | undefined, number, number, Pick<ResumePlan, 'resumeAfterRevision' | 'wantSnapshot'>]>([
    ['no projection at all', undefined, 10, 1, { resumeAfterRevision: 0, wantSnapshot: true }],
    ['projection never synced', { synced: false, appliedRevision: 0 }, 10, 1, { resumeAfterRevision: 0, wantSnapshot: true }],
    ['up to date', { synced: true, appliedRevision: 10 }, 10, 1, { resumeAfterRevision: 10, wantSnapshot: false }],
    ['behind, events retained', { synced: true, appliedRevision: 4 }, 10, 1, { resumeAfterRevision: 4, wantSnapshot: false }],
    [
      'behind, next event is the oldest retained',
      { synced: true, appliedRevision: 4 },
      10,
      5,
      { resumeAfterRevision: 4, wantSnapshot: false },
    ],
    ['behind, next event compacted', { synced: true, appliedRevision: 4 }, 10, 6, { resumeAfterRevision: 0, wantSnapshot: true }],
    ['empty agent log, empty projection', { synced: true, appliedRevision: 0 }, 0, 1, { resumeAfterRevision: 0, wantSnapshot: false }],
    ['projection ahead of the agent', { synced: true, appliedRevision: 12 }, 10, 1, { resumeAfterRevision: 0, wantSnapshot: true }],
  ])('%s', (_case, state, revision, oldestRevision, expected) => {
    expect(planResume(state, { revision, oldestRevision })).toMatchObject(expected);
  });
});
