/**
 * The never-lose-work policy: what kill and cleanup do to each worktree of a session, decided
 * from facts gathered once, with no I/O here. Kill removes only what holds no work and
 * refuses for the whole session when any repo holds some (atomic refusal). Cleanup removes
 * everything it can, preserving work first, and leaves in place what no preserved ref could
 * hold. Both refuse while a live process works inside.
 */

export type TeardownMode = 'kill' | 'cleanup';

/** What is true of one worktree right now, as far as its teardown is concerned. */
export interface WorktreeFacts {
  repoId: string;
  repoName: string;
  path: string;
  /**
   * Its removal had already begun (the row is RETRY_REMOVE): the decision was taken then,
   * and whatever is in the directory now is what is left of a removal, not work.
   */
  removalBegun: boolean;
  /** The directory is on disk. */
  exists: boolean;
  /** Live processes whose working directory is inside. */
  processes: number[];
  /** What git and a comparison with HEAD say changed; undefined when git cannot read it. */
  changes: WorktreeChanges | undefined;
  /** Git repositories inside (submodules, or repos made in it): no ref can hold their history. */
  nested: string[];
  /** Commits on a detached HEAD that no branch, tag or remote ref reaches. */
  unreferencedCommits: number;
}

export interface WorktreeChanges {
  staged: string[];
  /** Tracked files changed in the working tree (and not staged). */
  tracked: string[];
  /** Untracked files that are not ignored. */
  untracked: string[];
  /**
   * Tracked files flagged assume-unchanged or skip-worktree whose content on disk differs
   * from the index: `git status` does not show them, but they are edits all the same.
   */
  hidden: string[];
  /** Ignored files that the repo declares to be user work (keep-ignored globs). */
  keptIgnored: string[];
  /** Every other ignored path (collapsed to directories); removed with the worktree, reported. */
  ignored: string[];
}

export interface Refusal {
  repoId: string;
  repoName: string;
  reason: RefusalReason;
  message: string;
}

export type RefusalReason =
  | 'PROCESS_INSIDE'
  | 'STATE_UNREADABLE'
  | 'DIRTY_STAGED'
  | 'DIRTY_TRACKED'
  | 'DIRTY_UNTRACKED'
  | 'DIRTY_HIDDEN'
  | 'KEPT_IGNORED'
  | 'NESTED_REPOSITORY'
  | 'UNREFERENCED_COMMITS';

/** What happens to one worktree. */
export type TeardownAction =
  /** Nothing on disk: only git's record of it is forgotten. */
  | { action: 'forget' }
  /** Holds no work: removed; `ignored` lists the ignored paths that go with it. */
  | { action: 'remove'; ignored: string[] }
  /** Holds work: preserved to a ref (with `extraPaths`, ignored files git would skip), then removed. */
  | { action: 'preserve_then_remove'; extraPaths: string[]; ignored: string[] }
  /** A removal that had begun: finished, trusting what was decided (and preserved) then. */
  | { action: 'finish_removal' }
  /** Cannot be preserved, so it must not be removed: it stays, and says why. */
  | { action: 'leave'; reason: RefusalReason; message: string };

export interface RepoPlan {
  repoId: string;
  repoName: string;
  path: string;
  plan: TeardownAction;
}

export type TeardownDecision = { kind: 'refused'; refusals: Refusal[] } | { kind: 'proceed'; plans: RepoPlan[] };

const MAX_LISTED = 5;

export function listPaths(paths: readonly string[]): string {
  const shown = paths.slice(0, MAX_LISTED).join(', ');
  return paths.length > MAX_LISTED ? `${shown}, and ${paths.length - MAX_LISTED} more` : shown;
}

/** Every reason this worktree holds work that a plain removal would destroy, most important first. */
export function workReasons(facts: WorktreeFacts): Array<{ reason: RefusalReason; message: string }> {
  const reasons: Array<{ reason: RefusalReason; message: string }> = [];
  const { changes } = facts;
  if (!changes) {
    reasons.push({
      reason: 'STATE_UNREADABLE',
      message: `git cannot read the worktree at ${facts.path} (its .git link may be broken), so its changes are unknown`,
    });
    return reasons;
  }
  if (changes.staged.length) reasons.push({ reason: 'DIRTY_STAGED', message: `staged changes: ${listPaths(changes.staged)}` });
  if (changes.tracked.length) reasons.push({ reason: 'DIRTY_TRACKED', message: `modified tracked files: ${listPaths(changes.tracked)}` });
  if (changes.untracked.length) reasons.push({ reason: 'DIRTY_UNTRACKED', message: `untracked files: ${listPaths(changes.untracked)}` });
  if (changes.hidden.length) {
    reasons.push({
      reason: 'DIRTY_HIDDEN',
      message: `files flagged assume-unchanged or skip-worktree differ from HEAD: ${listPaths(changes.hidden)}`,
    });
  }
  if (changes.keptIgnored.length) {
    reasons.push({ reason: 'KEPT_IGNORED', message: `ignored files the repo keeps as work: ${listPaths(changes.keptIgnored)}` });
  }
  if (facts.nested.length) {
    reasons.push({ reason: 'NESTED_REPOSITORY', message: `git repositories inside: ${listPaths(facts.nested)}` });
  }
  if (facts.unreferencedCommits > 0) {
    reasons.push({
      reason: 'UNREFERENCED_COMMITS',
      message: `HEAD is detached with ${facts.unreferencedCommits} commit(s) on no branch; put them on a branch first`,
    });
  }
  return reasons;
}

function processRefusal(facts: WorktreeFacts): Refusal | undefined {
  if (facts.processes.length === 0) return undefined;
  return {
    repoId: facts.repoId,
    repoName: facts.repoName,
    reason: 'PROCESS_INSIDE',
    message: `live process ${facts.processes.map((pid) => `pid ${pid}`).join(', ')} has its working directory in ${facts.path}`,
  };
}

function cleanupPlan(facts: WorktreeFacts): TeardownAction {
  if (facts.removalBegun) return { action: 'finish_removal' };
  if (!facts.exists) return { action: 'forget' };
  const reasons = workReasons(facts);
  // What no preserved commit can hold must stay where it is.
  const unpreservable = reasons.find((r) => r.reason === 'STATE_UNREADABLE' || r.reason === 'NESTED_REPOSITORY');
  if (unpreservable) {
    const why =
      unpreservable.reason === 'NESTED_REPOSITORY'
        ? `it holds git repositories of its own (${listPaths(facts.nested)}), whose history a preserved ref cannot hold; commit, push or move them first`
        : `${unpreservable.message}, so its work could not be preserved`;
    return { action: 'leave', reason: unpreservable.reason, message: why };
  }
  const ignored = facts.changes?.ignored ?? [];
  if (reasons.length === 0) return { action: 'remove', ignored };
  return { action: 'preserve_then_remove', extraPaths: facts.changes?.keptIgnored ?? [], ignored };
}

/**
 * Decides the teardown of a whole session. Kill: every repo is checked before any is touched,
 * and one refusal refuses all. Cleanup: only a live process refuses; each repo is otherwise
 * removed, preserved then removed, or left with its reason.
 */
export function decideTeardown(facts: readonly WorktreeFacts[], mode: TeardownMode): TeardownDecision {
  const refusals: Refusal[] = [];
  for (const f of facts) {
    // A removal already under way has nothing left to protect; its processes were checked then.
    if (f.removalBegun || !f.exists) continue;
    const busy = processRefusal(f);
    if (busy) refusals.push(busy);
    if (mode === 'kill') {
      for (const r of workReasons(f)) refusals.push({ repoId: f.repoId, repoName: f.repoName, ...r });
    }
  }
  if (refusals.length > 0) return { kind: 'refused', refusals };
  const plans = facts.map((f): RepoPlan => {
    const plan: TeardownAction =
      mode === 'cleanup'
        ? cleanupPlan(f)
        : f.removalBegun
          ? { action: 'finish_removal' }
          : f.exists
            ? { action: 'remove', ignored: f.changes?.ignored ?? [] }
            : { action: 'forget' };
    return { repoId: f.repoId, repoName: f.repoName, path: f.path, plan };
  });
  return { kind: 'proceed', plans };
}
