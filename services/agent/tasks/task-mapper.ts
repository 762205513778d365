import { TaskActivity, TaskState, type Task } from '../../../gen/grove/agent/v1/resources.js';
import type { TaskActivityName } from '../domain/task-activity.js';
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

export const TASK_ACTIVITIES: Record<TaskActivityName, TaskActivity> = {
  WORKING: TaskActivity.TASK_ACTIVITY_WORKING,
  NEEDS_INPUT: TaskActivity.TASK_ACTIVITY_NEEDS_INPUT,
  IDLE: TaskActivity.TASK_ACTIVITY_IDLE,
};

export function taskActivityFromProto(activity: TaskActivity): TaskActivityName | undefined {
  return (Object.keys(TASK_ACTIVITIES) as TaskActivityName[]).find((k) => TASK_ACTIVITIES[k] === activity);
}

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
    tty: row.tty,
    cols: row.cols,
    rows: row.rows,
    profile: row.profile,
    // Only a running task does something; a row from before activities were kept is WORKING.
    activity: row.state === 'RUNNING' ? TASK_ACTIVITIES[row.activity || 'WORKING'] : TaskActivity.TASK_ACTIVITY_UNSPECIFIED,
    activityInferred: row.state === 'RUNNING' && row.activitySource === 'inferred',
    activityMessage: row.state === 'RUNNING' ? row.activityMessage : '',
    activityTime: row.state === 'RUNNING' ? (row.activityAt ?? undefined) : undefined,
    setup: row.setup,
  };
}
