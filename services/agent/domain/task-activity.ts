/**
 * What a running task is doing. Sources, most trusted first: an explicit signal from the task
 * (`grove signal`), then, for terminal tasks that never signalled, a probe of the terminal.
 * Pure: the probe's facts come in, the next activity goes out.
 */
export type TaskActivityName = 'WORKING' | 'NEEDS_INPUT' | 'IDLE';
export type ActivitySource = 'start' | 'signal' | 'inferred';

export interface Activity {
  activity: TaskActivityName;
  source: ActivitySource;
  message: string;
}

/** What a probe of a terminal task found. */
export interface TerminalFacts {
  /** The terminal's foreground process sleeps in a read of the terminal. */
  blockedOnTerminal: boolean;
  /** Time since the task last wrote output. */
  quietMs: number;
}

/** Output quiet this long, with the foreground blocked on the terminal, is waiting for a person. */
export const DEFAULT_QUIET_MS = 2000;

export const STARTED: Activity = { activity: 'WORKING', source: 'start', message: '' };

/** A signal always wins: the task knows best. */
export function signalled(activity: TaskActivityName, message: string): Activity {
  return { activity, source: 'signal', message };
}

/**
 * The activity after a probe, or undefined when it stays. A task that signalled once is never
 * second-guessed; otherwise a quiet terminal whose foreground reads it needs input, and one
 * that stopped waiting is working again.
 */
export function afterProbe(current: Activity, facts: TerminalFacts, quietMs = DEFAULT_QUIET_MS): Activity | undefined {
  if (current.source === 'signal') return undefined;
  const waiting = facts.blockedOnTerminal && facts.quietMs >= quietMs;
  if (waiting && current.activity !== 'NEEDS_INPUT') {
    return { activity: 'NEEDS_INPUT', source: 'inferred', message: 'waiting on its terminal' };
  }
  if (!waiting && current.activity === 'NEEDS_INPUT') return { activity: 'WORKING', source: 'inferred', message: '' };
  return undefined;
}

const RANK: Record<TaskActivityName, number> = { IDLE: 0, WORKING: 1, NEEDS_INPUT: 2 };

/** A session's activity from its running tasks': a task waiting for a person outranks one working. */
export function sessionActivity(running: readonly TaskActivityName[]): TaskActivityName {
  return running.reduce<TaskActivityName>((best, next) => (RANK[next] > RANK[best] ? next : best), 'IDLE');
}
