import type { Snapshot } from '../../gen/grove/agent/v1/resources.js';
import type { Logger } from '../common/logging.js';
import type { RepoService } from './repos/repo-service.js';
import type { JobService } from './jobs/job-service.js';
import type { LockService } from './procs/lock-service.js';
import type { SessionChanges } from './sessions/session-changes.js';
import type { SessionService } from './sessions/session-service.js';
import type { SyncService } from './sync/sync-service.js';
import type { TaskService } from './tasks/task-service.js';
import type { Store } from './store/store.js';

export interface AgentIdentity {
  /** Stable across restarts: created once and kept in the database. */
  id: string;
  name: string;
  labels: Record<string, string>;
  version: string;
}

/** The agent's link as the agent sees it, for GetAgentInfo (and so for people). */
export interface LinkStatus {
  coordinator: string;
  state: 'disabled' | 'connecting' | 'connected' | 'failing';
  lastError: string;
  /** Links the coordinator welcomed since the agent started (1 + reconnects). */
  welcomes: number;
}

// Least healthy first: a summary of several links reports the one that needs attention.
const HEALTH_ORDER: LinkStatus['state'][] = ['failing', 'connecting', 'connected', 'disabled'];

/** All links as one: every address, the least healthy state and its error (disabled when none). */
export function summarizeLinks(links: LinkStatus[]): LinkStatus {
  if (links.length === 0) return { coordinator: '', state: 'disabled', lastError: '', welcomes: 0 };
  const worst = [...links].sort((a, b) => HEALTH_ORDER.indexOf(a.state) - HEALTH_ORDER.indexOf(b.state))[0]!;
  return {
    coordinator: links.map((link) => link.coordinator).join(','),
    state: worst.state,
    lastError: worst.lastError,
    welcomes: links.reduce((sum, link) => sum + link.welcomes, 0),
  };
}

/** The services one agent process is made of, handed to handlers and the link. */
export interface AgentContext {
  identity: AgentIdentity;
  worktreeRoot: string;
  log: Logger;
  store: Store;
  repos: RepoService;
  sessions: SessionService;
  /** Review of a session's work: diff and commit. */
  changes: SessionChanges;
  tasks: TaskService;
  locks: LockService;
  jobs: JobService;
  syncs: SyncService;
  /** --max-running-tasks (0: no bound): told to the coordinator, which skips a full agent. */
  maxRunningTasks: number;
  /** One per coordinator (--coordinator A,B), each updated by its link as it connects, is welcomed and fails. */
  links: LinkStatus[];
  /** Everything the agent owns at one revision. */
  snapshot(): Promise<Snapshot>;
  /** Aborted when the agent begins shutting down: long streams end on it. */
  shutdown: AbortSignal;
}
