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
  /** Updated by the link as it connects, is welcomed and fails. */
  link: LinkStatus;
  /** Everything the agent owns at one revision. */
  snapshot(): Promise<Snapshot>;
  /** Aborted when the agent begins shutting down: long streams end on it. */
  shutdown: AbortSignal;
}
