import { describe, expect, it } from 'vitest';
import { Task, TaskState } from '@grove/sdk/proto/agent/v1/resources.js';
import { taskExitStatus } from './task.js';

describe('taskExitStatus', () => {
  it.each<[string, Partial<Task>, number]>([
    ['succeeded', { state: TaskState.TASK_STATE_SUCCEEDED }, 0],
    ['its own exit code', { state: TaskState.TASK_STATE_FAILED, exitCode: 7 }, 7],
    ['128 + the signal that killed it', { state: TaskState.TASK_STATE_FAILED, exitSignal: 'SIGKILL' }, 137],
    ['1 when it failed without a code (never started)', { state: TaskState.TASK_STATE_FAILED }, 1],
    ['1 for a code no process could exit with', { state: TaskState.TASK_STATE_FAILED, exitCode: 300 }, 1],
    ['130 when cancelled', { state: TaskState.TASK_STATE_CANCELLED, exitSignal: 'SIGTERM' }, 130],
    ['130 when interrupted', { state: TaskState.TASK_STATE_INTERRUPTED }, 130],
  ])('%s', (_case, task, status) => {
    expect(taskExitStatus(Task.fromPartial(task))).toBe(status);
  });
});
