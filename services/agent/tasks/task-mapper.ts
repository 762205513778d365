import { TaskState, type Task } from '../../../gen/grove/agent/v1/resources.js';
import type { TaskRow, TaskStateName } from '../store/entities.js';
import { resourceName } from '../domain/event-types.js';

export const taskResource = (id: string) => resourceName('tasks', id);

const TASK_STATES: Record<TaskStateName, TaskState> = {
  QUEUED: TaskState.TASK_STATE_QUEUED,
  RUNNING: TaskState.TASK_STATE_RUNNING,
  SUCCEEDED: TaskState.TASK_STATE_SUCCEEDED,
  FAILED: TaskState.TASK_STATE_FAILED,
  CANCELLED: TaskState.TASK_STATE_CANCELLED,
  INTERRUPTED: TaskState.TASK_STATE_INTERRUPTED,
};

export function taskStateFromProto(state: TaskState): TaskStateName | undefined {
  return (Object.keys(TASK_STATES) as TaskStateName[]).find((k) => TASK_STATES[k] === state);
}

export function toTaskProto(row: TaskRow): Task {
  return {
    id: row.id,
    sessionId: row.sessionId,
    seq: row.seq,
    prompt: row.prompt,
    argv: row.argv,
    repoId: row.repoId,
    state: TASK_STATES[row.state],
    reason: row.reason,
    pid: row.pid,
    exitCode: row.exitCode ?? 0,
    exitSignal: row.exitSignal,
    outputTail: row.outputTail,
    createTime: row.createdAt,
    startTime: row.startedAt ?? undefined,
    endTime: row.endedAt ?? undefined,
    agentId: '',
  };
}
