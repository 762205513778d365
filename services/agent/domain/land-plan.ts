/**
 * The commit step of landing a session, as pure decisions. Once every repo integrated
 * cleanly, the plan holds each target's old and new commit; the step then moves the target
 * refs one by one, each with a compare-and-swap. A crash can stop it between two refs, so a
 * resumed run first looks at where each target is now and decides from that alone.
 */

/** Where one repo's target branch is, against the plan. */
export type TargetPosition =
  /** Still at the commit the plan started from: to be moved. */
  | 'old'
  /** At the landed commit (or the repo had nothing to land): done. */
  | 'new'
  /** Somewhere else: someone moved it meanwhile. */
  | 'elsewhere';

export type LandStep =
  /** Move every target still at `old`; targets already at `new` stay. */
  | { action: 'move' }
  /** Someone moved a target: put back every target this land moved, and fail. */
  | { action: 'undo'; why: string };

export function positionOf(current: string | undefined, planned: { old: string; new: string }): TargetPosition {
  if (current === planned.new) return 'new';
  if (current === planned.old) return 'old';
  return 'elsewhere';
}

/**
 * All or nothing: if any target moved away from both the old and the landed commit, the land
 * cannot be finished without overwriting someone's work, so everything it moved goes back.
 * Otherwise it rolls forward: a land that already moved some refs is finished, not undone,
 * since every repo integrated cleanly before the first ref moved.
 */
export function nextLandStep(repos: ReadonlyArray<{ repoName: string; target: string; position: TargetPosition }>): LandStep {
  const moved = repos.filter((r) => r.position === 'elsewhere');
  if (moved.length > 0) {
    const names = moved.map((r) => `${r.target} in repo ${r.repoName}`).join(', ');
    return { action: 'undo', why: `${names} moved while landing (a push or commit meanwhile); nothing was landed, land again` };
  }
  return { action: 'move' };
}
