import { describe, expect, it } from 'vitest';
import { Job, JobKind, JobState, Task, TaskActivity, TaskState, type Event } from '../../../gen/grove/agent/v1/resources.js';
import { agentUnknownNotification, notificationsFor, parseNotificationTypes } from './notifications.js';
import { checkWebhookUrl, retryDelayMs, signBody } from './webhook-outbox.js';

const time = new Date('2026-12-01T00:00:00Z');
const taskEvent = (type: string, revision: number, fields: Partial<Task>): Event => ({
  revision,
  type,
  resource: 'tasks/tsk_1',
  time,
  deleted: false,
  payload: { $case: 'task', value: Task.fromPartial({ id: 'tsk_1', ...fields }) },
});
const jobEvent = (revision: number, fields: Partial<Job>): Event => ({
  revision,
  type: 'job.ended',
  resource: 'jobs/job_1',
  time,
  deleted: false,
  payload: { $case: 'job', value: Job.fromPartial({ id: 'job_1', ...fields }) },
});
const types = (event: Event) => notificationsFor('agt_a', event).map((n) => n.type);

describe('notificationsFor: which agent events are worth a webhook', () => {
  it('tells ended from failed tasks, and a task that starts waiting for a person', () => {
    expect(types(taskEvent('task.ended', 5, { state: TaskState.TASK_STATE_SUCCEEDED }))).toEqual(['task.ended']);
    expect(types(taskEvent('task.ended', 6, { state: TaskState.TASK_STATE_CANCELLED }))).toEqual(['task.ended']);
    expect(types(taskEvent('task.ended', 7, { state: TaskState.TASK_STATE_FAILED }))).toEqual(['task.failed']);
    expect(types(taskEvent('task.ended', 8, { state: TaskState.TASK_STATE_INTERRUPTED }))).toEqual(['task.failed']);
    expect(types(taskEvent('task.activity', 9, { activity: TaskActivity.TASK_ACTIVITY_NEEDS_INPUT }))).toEqual(['task.needs_input']);
    expect(types(taskEvent('task.activity', 10, { activity: TaskActivity.TASK_ACTIVITY_WORKING }))).toEqual([]);
    expect(types(taskEvent('task.started', 11, { state: TaskState.TASK_STATE_RUNNING }))).toEqual([]);
  });

  it('tells failed jobs and finished lands', () => {
    expect(types(jobEvent(3, { state: JobState.JOB_STATE_FAILED, kind: JobKind.JOB_KIND_SYNC_REPO }))).toEqual(['job.failed']);
    expect(types(jobEvent(4, { state: JobState.JOB_STATE_SUCCEEDED, kind: JobKind.JOB_KIND_LAND_SESSION }))).toEqual(['land.done']);
    expect(types(jobEvent(5, { state: JobState.JOB_STATE_SUCCEEDED, kind: JobKind.JOB_KIND_SYNC_REPO }))).toEqual([]);
  });

  it('derives ids from what happened, so a repeat of the same event makes the same id', () => {
    const event = taskEvent('task.ended', 42, { state: TaskState.TASK_STATE_FAILED });
    expect(notificationsFor('agt_a', event)[0]!.id).toBe(notificationsFor('agt_a', event)[0]!.id);
    expect(notificationsFor('agt_a', event)[0]!.id).not.toBe(notificationsFor('agt_b', event)[0]!.id);
    const seen = new Date(1000);
    expect(agentUnknownNotification({ id: 'agt_a', name: 'a' }, seen).id).toBe(
      agentUnknownNotification({ id: 'agt_a', name: 'a' }, seen).id,
    );
    expect(agentUnknownNotification({ id: 'agt_a', name: 'a' }, seen).id).not.toBe(
      agentUnknownNotification({ id: 'agt_a', name: 'a' }, new Date(2000)).id,
    );
  });
});

describe('webhook delivery rules', () => {
  it('backs off from a second, doubling, up to the cap', () => {
    expect([1, 2, 3, 4, 10].map((n) => retryDelayMs(n, 5000))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });

  it('signs as GitHub does: sha256=<hex of HMAC-SHA256 over the body>', () => {
    expect(signBody("It's a Secret to Everybody", 'Hello, World!')).toBe(
      'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    );
  });

  it('accepts only http(s) receivers without credentials, and known event names', () => {
    expect(checkWebhookUrl('https://hooks.example.com/grove')).toBe('https://hooks.example.com/grove');
    expect(() => checkWebhookUrl('file:///etc/passwd')).toThrow(/must be an http:\/\/ or https:\/\/ URL/);
    expect(() => checkWebhookUrl('not a url')).toThrow(/is not a URL/);
    expect(() => checkWebhookUrl('https://user:pw@example.com/')).toThrow(/carry no credentials/);
    expect([...parseNotificationTypes('task.failed, land.done')]).toEqual(['task.failed', 'land.done']);
    expect(parseNotificationTypes(undefined).size).toBe(6);
    expect(() => parseNotificationTypes('task.failed,nope')).toThrow(/no event "nope"/);
  });
});
