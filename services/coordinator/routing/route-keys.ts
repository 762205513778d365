/** Kinds of resource whose ids the projection knows the owner of. */
export type OwnedKind = 'session' | 'task' | 'job' | 'repo' | 'lock';

/** What a request says about where it must run. */
export interface RouteKeys {
  /** Ids of resources the request acts on: it must run on the agent that owns them. */
  owned: Array<{ kind: OwnedKind; id: string }>;
  /**
   * Repos the request refers to by id or name. An id routes like `owned`; a name (names are
   * per agent) only narrows the choice to agents that have a repo of that name.
   */
  repos: string[];
  /** The request names something the coordinator does not project: say which agent. */
  needsAgent?: string;
}

type Extract = (request: Record<string, unknown>) => RouteKeys;

const str = (value: unknown): string => (typeof value === 'string' ? value : '');
const strs = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v !== '') : [];

const owned = (kind: OwnedKind, ...ids: string[]) => ids.filter(Boolean).map((id) => ({ kind, id }));
const keys = (partial: Partial<RouteKeys>): RouteKeys => ({ owned: [], repos: [], ...partial });

const sessionBy =
  (field: string): Extract =>
  (r) =>
    keys({ owned: owned('session', str(r[field])) });
const taskBy =
  (field: string): Extract =>
  (r) =>
    keys({ owned: owned('task', str(r[field])) });
const jobBy =
  (field: string): Extract =>
  (r) =>
    keys({ owned: owned('job', str(r[field])) });
const repoBy =
  (field: string): Extract =>
  (r) =>
    keys({ repos: strs([r[field]]) });

/**
 * Per AgentService method, the ids that route it by themselves ("ids route by themselves").
 * Methods not listed carry nothing that names an agent: they go where the caller or the
 * selector says.
 */
const ROUTE_KEYS: Record<string, Extract> = {
  GetRepo: repoBy('id'),
  RemoveRepo: repoBy('id'),
  UpdateRepo: repoBy('id'),
  CreateSession: (r) => keys({ repos: strs(r.repoIds) }),
  GetSession: sessionBy('id'),
  ListSessions: repoBy('repoId'),
  KillSession: sessionBy('id'),
  CleanupSession: sessionBy('id'),
  RestoreSessions: (r) => keys({ owned: owned('session', ...strs(r.ids)) }),
  ListPreserved: sessionBy('sessionId'),
  ApplyPreserved: sessionBy('sessionId'),
  DropPreserved: sessionBy('sessionId'),
  StartTask: sessionBy('sessionId'),
  GetTask: taskBy('id'),
  ListTasks: sessionBy('sessionId'),
  CancelTask: taskBy('id'),
  ReadTaskLog: taskBy('id'),
  ReleaseLock: (r) => keys({ owned: owned('lock', str(r.directory)) }),
  SubmitJob: (r) => keys({ owned: owned('session', str(r.sessionId), ...strs(r.sessionIds)), repos: strs([r.repoId]) }),
  GetJob: jobBy('id'),
  ListJobs: repoBy('repoId'),
  CancelJob: jobBy('id'),
  StartSync: (r) => keys({ owned: owned('session', str(r.sessionId)), repos: strs([r.repoId]) }),
  StopSync: repoBy('repoId'),
  FlushSync: repoBy('repoId'),
  ListStashes: repoBy('repoId'),
  ApplyStash: () => keys({ needsAgent: 'stash ids are not projected' }),
  DropStash: () => keys({ needsAgent: 'stash ids are not projected' }),
};

/** What a decoded request of `method` (proto name) says about where it must run. */
export function routeKeysOf(method: string, request: unknown): RouteKeys {
  const extract = ROUTE_KEYS[method];
  return extract && request && typeof request === 'object' ? extract(request as Record<string, unknown>) : keys({});
}
