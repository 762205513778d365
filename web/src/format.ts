import { agentStatusToJSON, groupMemberStateToJSON, type Agent } from '../../gen/grove/coordinator/v1/coordinator_service.js';
import {
  jobKindToJSON,
  jobStateToJSON,
  sessionActivityToJSON,
  sessionStateToJSON,
  taskStateToJSON,
  worktreeStateToJSON,
} from '../../gen/grove/agent/v1/resources.js';

/** `SESSION_STATE_ACTIVE` → `ACTIVE`, as the CLI shows enums. */
const label = (text: string, prefix: string) => (text.startsWith(prefix) ? text.slice(prefix.length) : text);

export const sessionState = (state: number) => label(sessionStateToJSON(state), 'SESSION_STATE_');
export const sessionActivity = (activity: number) => label(sessionActivityToJSON(activity), 'SESSION_ACTIVITY_');
export const taskState = (state: number) => label(taskStateToJSON(state), 'TASK_STATE_');
export const worktreeState = (state: number) => label(worktreeStateToJSON(state), 'WORKTREE_STATE_');
export const jobState = (state: number) => label(jobStateToJSON(state), 'JOB_STATE_');
export const jobKind = (kind: number) => label(jobKindToJSON(kind), 'JOB_KIND_').toLowerCase();
export const agentStatus = (agent: Agent) => label(agentStatusToJSON(agent.status), 'AGENT_STATUS_');
export const memberState = (state: number) => label(groupMemberStateToJSON(state), 'GROUP_MEMBER_STATE_');

/** "5s", "3m", "2h", "4d" ago. */
export function age(time: Date | undefined, now: number): string {
  if (!time) return '-';
  const seconds = Math.max(0, Math.round((now - time.getTime()) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

export const gib = (bytes: number) => (bytes > 0 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : '-');

/** Terminal escapes out of a task's output, for reading it as text. */
// eslint-disable-next-line no-control-regex
export const plainText = (text: string) => text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\r(?!\n)/g, '');
