export type TaskStateName = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'INTERRUPTED';

/** The moves a task makes before it ends (its end is decided by `finalTaskState`). */
export type TaskMove = 'launch' | 'cancel_queued';

const TASK_MOVES: Record<TaskMove, { from: readonly TaskStateName[]; to: TaskStateName }> = {
  launch: { from: ['QUEUED'], to: 'RUNNING' },
  cancel_queued: { from: ['QUEUED'], to: 'CANCELLED' },
};

/** The task's state after `move`, or an error: a move from the wrong state is a bug, not a user mistake. */
export function nextTaskState(from: TaskStateName, move: TaskMove): TaskStateName {
  const rule = TASK_MOVES[move];
  if (!rule.from.includes(from)) throw new Error(`task: ${move} not allowed from ${from}`);
  return rule.to;
}

export const FINISHED_TASK_STATES: readonly TaskStateName[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'];

export const isFinished = (state: TaskStateName) => FINISHED_TASK_STATES.includes(state);

/** How a run ended, as the runner's exit file or the agent's probes tell it. */
export type RunOutcome =
  | { kind: 'exited'; code: number | null; signal: string | null }
  | { kind: 'vanished' } // no runner, no exit file
  | { kind: 'runner_died' } // the runner died first; what it left running was stopped
  | { kind: 'never_started'; why: string };

/** The final state and reason of a task, from how its run ended and whether it was cancelled. */
export function finalTaskState(
  outcome: RunOutcome,
  cancelRequested: boolean,
  afterRestart: boolean,
): { state: TaskStateName; reason: string } {
  if (outcome.kind === 'never_started') return { state: 'FAILED', reason: outcome.why };
  if (cancelRequested) return { state: 'CANCELLED', reason: 'cancelled on request' };
  if (outcome.kind === 'runner_died') {
    return { state: 'INTERRUPTED', reason: 'the runner died (killed, or out of memory); the processes it left were stopped' };
  }
  if (outcome.kind === 'vanished') {
    return {
      state: 'INTERRUPTED',
      reason: afterRestart ? 'agent restarted; process gone' : 'runner process gone without an exit status',
    };
  }
  if (outcome.code === 0) return { state: 'SUCCEEDED', reason: '' };
  if (outcome.signal) return { state: 'FAILED', reason: `killed by ${outcome.signal}` };
  return { state: 'FAILED', reason: `exited with code ${outcome.code}` };
}
