import { Job, JobKind, JobState, Task, TaskActivity, TaskState, type Event } from '../../../gen/grove/agent/v1/resources.js';

/** What a webhook can be told about, as `--webhook-events` names them. */
export const NOTIFICATION_TYPES = ['task.ended', 'task.failed', 'task.needs_input', 'agent.unknown', 'job.failed', 'land.done'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/**
 * One thing worth telling someone about. `id` is derived from what happened (the agent and
 * the revision of its event), never drawn at random: the same event seen twice (a link that
 * resumed from an older revision) makes the same id, and the outbox keeps it once.
 */
export interface Notification {
  id: string;
  type: NotificationType;
  time: Date;
  agentId: string;
  /** The JSON body's resource fields: the task, job or session as the API shows them. */
  subject: Record<string, unknown>;
}

/** Parses `--webhook-events a,b`; every type when absent. */
export function parseNotificationTypes(text: string | undefined): Set<NotificationType> {
  if (text === undefined || text.trim() === '') return new Set(NOTIFICATION_TYPES);
  const types = new Set<NotificationType>();
  for (const name of text.split(',').map((s) => s.trim())) {
    if (!(NOTIFICATION_TYPES as readonly string[]).includes(name)) {
      throw new Error(`--webhook-events: no event "${name.slice(0, 40)}" (one of ${NOTIFICATION_TYPES.join(', ')})`);
    }
    types.add(name as NotificationType);
  }
  return types;
}

const FAILED_TASK = new Set([TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_INTERRUPTED]);

/** Pure: the notifications an agent's event makes (none for most events). */
export function notificationsFor(agentId: string, event: Event): Notification[] {
  const at = { agentId, time: event.time ?? new Date() };
  const id = (type: NotificationType) => `${agentId}/${event.revision}/${type}`;
  const payload = event.payload;
  if (payload?.$case === 'task') {
    const task = payload.value;
    const subject = { task: Task.toJSON(task) };
    if (event.type === 'task.ended') {
      const type = FAILED_TASK.has(task.state) ? 'task.failed' : 'task.ended';
      return [{ id: id(type), type, subject, ...at }];
    }
    if (event.type === 'task.activity' && task.activity === TaskActivity.TASK_ACTIVITY_NEEDS_INPUT) {
      return [{ id: id('task.needs_input'), type: 'task.needs_input', subject, ...at }];
    }
    return [];
  }
  if (payload?.$case === 'job' && event.type === 'job.ended') {
    const job = payload.value;
    const subject = { job: Job.toJSON(job) };
    if (job.state === JobState.JOB_STATE_FAILED) return [{ id: id('job.failed'), type: 'job.failed', subject, ...at }];
    if (job.kind === JobKind.JOB_KIND_LAND_SESSION && job.state === JobState.JOB_STATE_SUCCEEDED) {
      return [{ id: id('land.done'), type: 'land.done', subject, ...at }];
    }
  }
  return [];
}

/** The agent was not heard from within its TTL; `lastSeen` tells this silence from the next. */
export function agentUnknownNotification(agent: { id: string; name: string }, lastSeen: Date): Notification {
  return {
    id: `${agent.id}/unknown/${lastSeen.getTime()}`,
    type: 'agent.unknown',
    time: new Date(),
    agentId: agent.id,
    subject: { agent: { id: agent.id, name: agent.name, lastSeenTime: lastSeen.toISOString() } },
  };
}
