/**
 * Fault injection for tests: with GROVE_ENABLE_CRASH_POINTS=1 and GROVE_CRASH_AT=<point>,
 * the agent kills itself with SIGKILL when it reaches that point, so tests can check the
 * never-lose-work invariant at every step of create, kill, preserve and remove. Both
 * variables are needed so a stray GROVE_CRASH_AT in a user's shell does nothing.
 *
 * Points: create.after_worktree, kill.before_remove, kill.after_remove,
 * preserve.after_ref, preserve.after_row, remove.midway (a removal cut short after deleting
 * part of the tree), remove.after_git, job.rebase_conflict, sync.after_stash,
 * task.before_spawn, task.after_spawn, land.planned, land.ref_moved (after the first target moved),
 * land.moved (after every target moved).
 */
export function crashPoint(point: string): void {
  if (crashPointReached(point)) process.kill(process.pid, 'SIGKILL');
}

/** Whether the agent will crash at `point`, for a point that first does part of a step. */
export function crashPointReached(point: string): boolean {
  return process.env.GROVE_ENABLE_CRASH_POINTS === '1' && process.env.GROVE_CRASH_AT === point;
}
