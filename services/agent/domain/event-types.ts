/**
 * Every kind of change the agent records, by the resource it is about. An event's `type`
 * is one of these; watchers (the coordinator, the CLI, the page) may switch on them, so a
 * new kind is added here, never made up at a call site. Resource names are made in one
 * place too (`resourceName`): `<collection>/<id>`.
 */
export type RepoEventType = 'repo.added' | 'repo.updated' | 'repo.removed';
export type SessionEventType = 'session.created' | 'session.updated';
export type TaskEventType =
  'task.queued' | 'task.starting' | 'task.started' | 'task.cancelling' | 'task.ended' | 'task.deleted' | 'task.activity';
export type JobEventType = 'job.queued' | 'job.started' | 'job.progress' | 'job.cancelling' | 'job.requeued' | 'job.ended' | 'job.deleted';
export type LockEventType = 'lock.acquired' | 'lock.released';
export type SyncEventType = 'sync.updated';
export type StashEventType = 'stash.created' | 'stash.dropped';

export type AgentEventType =
  RepoEventType | SessionEventType | TaskEventType | JobEventType | LockEventType | SyncEventType | StashEventType | 'agent.recovered';

export type ResourceCollection = 'repos' | 'sessions' | 'tasks' | 'jobs' | 'locks' | 'syncs' | 'stashes';

/** `sessions/ses_…`: the name an event gives the resource it is about. */
export const resourceName = (collection: ResourceCollection, id: string) => `${collection}/${id}`;
