/** Exit statuses of `grove`; `grove help` and clients/README.md list them. */
export const EXIT_OK = 0;
/** A call failed, or what was waited for failed (a job, a task that ended without a code). */
export const EXIT_CALL_FAILED = 1;
/** The command line is wrong. */
export const EXIT_USAGE = 2;
/** The agent refused to do it, to protect work (a kill on a dirty worktree); nothing changed. */
export const EXIT_REFUSED = 3;
/** What was waited for was stopped before it finished (a task cancelled or interrupted, or Ctrl-C). */
export const EXIT_STOPPED = 130;
