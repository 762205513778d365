import type { TaskEventType } from '../domain/event-types.js';
import { TaskSchema, type TaskRow } from '../store/entities.js';
import type { Tx } from '../store/store.js';
import { taskResource, toTaskProto } from './task-mapper.js';

/** What a new task row is made of; the rest starts empty (QUEUED, no pid, no outcome). */
export interface NewTask {
  id: string;
  sessionId: string;
  seq: number;
  prompt: string;
  argv: string[];
  env: Record<string, string>;
  repoId: string;
  cwd: string;
  runDir: string;
  requestId: string | null;
  tty: boolean;
  cols: number;
  rows: number;
  profile: string;
  setup: boolean;
}

/** A QUEUED task row, created in the caller's transaction with its task.queued event. */
export function createQueuedTask(tx: Tx, task: NewTask): TaskRow {
  const row = tx.em.create(TaskSchema, {
    ...task,
    state: 'QUEUED',
    reason: '',
    pid: 0,
    pidStartTicks: 0,
    bootId: '',
    exitCode: null,
    exitSignal: '',
    cancelRequested: false,
    outputTail: '',
    createdAt: new Date(),
    startedAt: null,
    endedAt: null,
    activity: '',
    activitySource: '',
    activityMessage: '',
    activityAt: null,
    secretHash: '',
  });
  emitTask(tx, row, 'task.queued');
  return row;
}

export function emitTask(tx: Tx, row: TaskRow, type: TaskEventType): void {
  tx.emit({ type, resource: taskResource(row.id), payload: { $case: 'task', value: toTaskProto(row) } });
}
