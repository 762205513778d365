import { describe, expect, it } from 'vitest';
import { decideTeardown, type RefusalReason, type TeardownAction, type WorktreeChanges, type WorktreeFacts } from './worktree-teardown.js';

const clean: WorktreeChanges = { staged: [], tracked: [], untracked: [], hidden: [], keptIgnored: [], ignored: [] };

type FactsOverride = Omit<Partial<WorktreeFacts>, 'changes'> & { changes?: Partial<WorktreeChanges> | undefined };

function facts(over: FactsOverride = {}): WorktreeFacts {
  const { changes, ...rest } = over;
  return {
    repoId: 'rep_a',
    repoName: 'a',
    path: '/wt/ses/a',
    removalBegun: false,
    exists: true,
    processes: [],
    nested: [],
    unreferencedCommits: 0,
    ...rest,
    changes: 'changes' in over && changes === undefined ? undefined : { ...clean, ...changes },
  };
}

// One row per way a worktree can hold work: what kill says, and what cleanup does.
const table: Array<[string, WorktreeFacts, RefusalReason, TeardownAction['action']]> = [
  ['a live process inside', facts({ processes: [42] }), 'PROCESS_INSIDE', 'refused' as never],
  ['git cannot read it', facts({ changes: undefined }), 'STATE_UNREADABLE', 'leave'],
  ['staged changes', facts({ changes: { staged: ['a.txt'] } }), 'DIRTY_STAGED', 'preserve_then_remove'],
  ['modified tracked files', facts({ changes: { tracked: ['a.txt'] } }), 'DIRTY_TRACKED', 'preserve_then_remove'],
  ['untracked files', facts({ changes: { untracked: ['new.txt'] } }), 'DIRTY_UNTRACKED', 'preserve_then_remove'],
  [
    'edits hidden by assume-unchanged or skip-worktree',
    facts({ changes: { hidden: ['cfg.json'] } }),
    'DIRTY_HIDDEN',
    'preserve_then_remove',
  ],
  ['ignored files the repo keeps', facts({ changes: { keptIgnored: ['.env'] } }), 'KEPT_IGNORED', 'preserve_then_remove'],
  ['a nested repository', facts({ nested: ['vendor/lib/'] }), 'NESTED_REPOSITORY', 'leave'],
  ['commits on a detached HEAD', facts({ unreferencedCommits: 2 }), 'UNREFERENCED_COMMITS', 'preserve_then_remove'],
];

describe('worktree teardown policy', () => {
  it.each(table)('%s: kill refuses with its reason', (_what, f, reason) => {
    const decision = decideTeardown([f], 'kill');
    expect(decision.kind).toBe('refused');
    expect(decision.kind === 'refused' && decision.refusals.map((r) => r.reason)).toEqual([reason]);
  });

  it.each(table.filter(([, , reason]) => reason !== 'PROCESS_INSIDE'))('%s: cleanup does %s', (_what, f, _reason, action) => {
    const decision = decideTeardown([f], 'cleanup');
    expect(decision.kind).toBe('proceed');
    expect(decision.kind === 'proceed' && decision.plans[0]!.plan.action).toBe(action);
  });

  it('cleanup refuses only for a live process, naming the pids', () => {
    const decision = decideTeardown([facts({ processes: [7, 8], changes: { tracked: ['x'] } })], 'cleanup');
    expect(decision).toEqual({
      kind: 'refused',
      refusals: [expect.objectContaining({ reason: 'PROCESS_INSIDE', message: expect.stringMatching(/pid 7, pid 8/) })],
    });
  });

  it('a clean worktree is removed by both, reporting the ignored paths that go with it', () => {
    for (const mode of ['kill', 'cleanup'] as const) {
      const decision = decideTeardown([facts({ changes: { ignored: ['node_modules/', '.env'] } })], mode);
      expect(decision).toEqual({
        kind: 'proceed',
        plans: [expect.objectContaining({ plan: { action: 'remove', ignored: ['node_modules/', '.env'] } })],
      });
    }
  });

  it('cleanup preserves kept ignored files by name, past the ignore rules', () => {
    const decision = decideTeardown([facts({ changes: { keptIgnored: ['.env'], ignored: ['x.log'] } })], 'cleanup');
    expect(decision.kind === 'proceed' && decision.plans[0]!.plan).toEqual({
      action: 'preserve_then_remove',
      extraPaths: ['.env'],
      ignored: ['x.log'],
    });
  });

  it('a directory that is gone is only forgotten; a begun removal is only finished', () => {
    for (const mode of ['kill', 'cleanup'] as const) {
      const gone = decideTeardown([facts({ exists: false, changes: undefined })], mode);
      expect(gone.kind === 'proceed' && gone.plans[0]!.plan.action).toBe('forget');
    }
    // Its remains are not work: not read, not refused on, even with a process or no git.
    const begun = decideTeardown([facts({ removalBegun: true, processes: [9], changes: undefined })], 'cleanup');
    expect(begun.kind === 'proceed' && begun.plans[0]!.plan.action).toBe('finish_removal');
  });

  it('kill across repos is atomic: one dirty repo refuses the whole session, naming only it', () => {
    const a = facts({ repoId: 'rep_a', repoName: 'a' });
    const b = facts({ repoId: 'rep_b', repoName: 'b', changes: { untracked: ['n.txt'] } });
    const c = facts({ repoId: 'rep_c', repoName: 'c', processes: [5], changes: { hidden: ['h'] } });
    const decision = decideTeardown([a, b, c], 'kill');
    expect(decision.kind).toBe('refused');
    expect(decision.kind === 'refused' && decision.refusals.map((r) => `${r.repoName}:${r.reason}`)).toEqual([
      'b:DIRTY_UNTRACKED',
      'c:PROCESS_INSIDE',
      'c:DIRTY_HIDDEN',
    ]);
    expect(decideTeardown([a, facts({ repoId: 'rep_d', repoName: 'd' })], 'kill').kind).toBe('proceed');
  });

  it('cleanup across repos decides each on its own: one left in place does not stop the others', () => {
    const decision = decideTeardown(
      [facts({ repoName: 'a', nested: ['sub/'] }), facts({ repoName: 'b', changes: { tracked: ['t'] } }), facts({ repoName: 'c' })],
      'cleanup',
    );
    expect(decision.kind === 'proceed' && decision.plans.map((p) => `${p.repoName}:${p.plan.action}`)).toEqual([
      'a:leave',
      'b:preserve_then_remove',
      'c:remove',
    ]);
  });

  it('lists at most five paths in a message and counts the rest', () => {
    const many = Array.from({ length: 8 }, (_, i) => `f${i}`);
    const decision = decideTeardown([facts({ changes: { untracked: many } })], 'kill');
    expect(decision.kind === 'refused' && decision.refusals[0]!.message).toBe('untracked files: f0, f1, f2, f3, f4, and 3 more');
  });
});
