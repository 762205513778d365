/** A session with tasks waiting and none running, and when its oldest waiting task was queued. */
export interface WaitingSession {
  sessionId: string;
  oldestQueuedAt: Date;
  /** Breaks ties between tasks queued in the same millisecond (ids sort by creation). */
  oldestQueuedId: string;
}

/**
 * The sessions that may start their next task now, under an agent-wide bound of `max`
 * running tasks (0: no bound): the ones waiting longest, as many as there are free slots.
 * Each session runs one task at a time, so a slot goes to a session, not to a task.
 */
export function admittedSessions(waiting: readonly WaitingSession[], running: number, max: number): Set<string> {
  if (max <= 0) return new Set(waiting.map((w) => w.sessionId));
  const free = Math.max(0, max - running);
  const oldestFirst = [...waiting].sort(
    (a, b) => a.oldestQueuedAt.getTime() - b.oldestQueuedAt.getTime() || a.oldestQueuedId.localeCompare(b.oldestQueuedId),
  );
  return new Set(oldestFirst.slice(0, free).map((w) => w.sessionId));
}
