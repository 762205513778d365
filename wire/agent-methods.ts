import { AgentServiceDefinition } from '../gen/grove/agent/v1/agent_service.js';

/**
 * The one registry of AgentService methods, for everything that carries a call by name: the
 * SDK's routed calls, the coordinator's Route, and the agent's end of the link. Codecs come
 * from the generated definition; route keys are written per method against its request
 * message, so renaming a proto field fails to compile here instead of silently routing
 * nowhere. Adding a unary method to the proto makes it routable; if its request names
 * something an agent owns, one line in ROUTE_KEYS says what.
 */

type Methods = typeof AgentServiceDefinition.methods;
export type AgentMethodKey = keyof Methods;

/** The unary methods, by their camelCase key (as the generated client names them). */
export type UnaryAgentMethodKey = {
  [K in AgentMethodKey]: Methods[K]['requestStream'] extends false ? (Methods[K]['responseStream'] extends false ? K : never) : never;
}[AgentMethodKey];

/** The response message of `K`. */
export type AgentResponseOf<K extends AgentMethodKey> = ReturnType<Methods[K]['responseType']['decode']>;

/** The request message of `K`. */
export type AgentRequestOf<K extends AgentMethodKey> = ReturnType<Methods[K]['requestType']['decode']>;

interface MessageCodec {
  decode(input: Uint8Array): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  fromPartial(object: unknown): unknown;
}

export interface AgentMethod {
  /** camelCase, as the generated client and implementation name it: "createSession". */
  key: AgentMethodKey;
  /** As in the proto, as Route and the link name it: "CreateSession". */
  name: string;
  requestType: MessageCodec;
  responseType: MessageCodec;
  unary: boolean;
}

/** Kinds of resource whose ids the coordinator's projection knows the owner of. */
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

const owned = (kind: OwnedKind, ...ids: string[]) => ids.filter(Boolean).map((id) => ({ kind, id }));
const keys = (partial: Partial<RouteKeys>): RouteKeys => ({ owned: [], repos: [], ...partial });
const repos = (...ids: string[]) => keys({ repos: ids.filter(Boolean) });

/**
 * Per unary method, the ids in its request that route it by themselves. Methods not listed
 * carry nothing that names an agent: they go where the caller or the selector says.
 */
const ROUTE_KEYS: { [K in UnaryAgentMethodKey]?: (request: AgentRequestOf<K>) => RouteKeys } = {
  getRepo: (r) => repos(r.id),
  removeRepo: (r) => repos(r.id),
  updateRepo: (r) => repos(r.id),
  createSession: (r) => repos(...r.repoIds),
  getSession: (r) => keys({ owned: owned('session', r.id) }),
  listSessions: (r) => repos(r.repoId),
  killSession: (r) => keys({ owned: owned('session', r.id) }),
  cleanupSession: (r) => keys({ owned: owned('session', r.id) }),
  restoreSessions: (r) => keys({ owned: owned('session', ...r.ids) }),
  diffSession: (r) => keys({ owned: owned('session', r.sessionId) }),
  commitSession: (r) => keys({ owned: owned('session', r.sessionId) }),
  landSession: (r) => keys({ owned: owned('session', r.sessionId) }),
  listPreserved: (r) => keys({ owned: owned('session', r.sessionId) }),
  applyPreserved: (r) => keys({ owned: owned('session', r.sessionId) }),
  dropPreserved: (r) => keys({ owned: owned('session', r.sessionId) }),
  startTask: (r) => keys({ owned: owned('session', r.sessionId) }),
  getTask: (r) => keys({ owned: owned('task', r.id) }),
  listTasks: (r) => keys({ owned: owned('session', r.sessionId) }),
  cancelTask: (r) => keys({ owned: owned('task', r.id) }),
  readTaskLog: (r) => keys({ owned: owned('task', r.id) }),
  sendTaskInput: (r) => keys({ owned: owned('task', r.taskId) }),
  signalTask: (r) => keys({ owned: owned('task', r.taskId) }),
  releaseLock: (r) => keys({ owned: owned('lock', r.directory) }),
  submitJob: (r) => keys({ owned: owned('session', r.sessionId, ...r.sessionIds), repos: [r.repoId].filter(Boolean) }),
  getJob: (r) => keys({ owned: owned('job', r.id) }),
  listJobs: (r) => repos(r.repoId),
  cancelJob: (r) => keys({ owned: owned('job', r.id) }),
  startSync: (r) => keys({ owned: owned('session', r.sessionId), repos: [r.repoId].filter(Boolean) }),
  stopSync: (r) => repos(r.repoId),
  flushSync: (r) => repos(r.repoId),
  listStashes: (r) => repos(r.repoId),
  applyStash: () => keys({ needsAgent: 'stash ids are not projected' }),
  dropStash: () => keys({ needsAgent: 'stash ids are not projected' }),
};

/**
 * Per unary method, how a request that names no repo takes the one Route was asked for
 * (`has_repo`): "a session on whichever agent has repo X", where the client cannot know that
 * agent's repo id in advance and the agent accepts a name.
 */
const WITH_REPO: { [K in UnaryAgentMethodKey]?: (request: AgentRequestOf<K>, repo: string) => AgentRequestOf<K> | undefined } = {
  createSession: (r, repo) => (r.repoIds.length === 0 ? { ...r, repoIds: [repo] } : undefined),
};

const BY_NAME = new Map<string, AgentMethod>();
for (const [key, method] of Object.entries(AgentServiceDefinition.methods)) {
  const entry: AgentMethod = {
    key: key as AgentMethodKey,
    name: method.name,
    requestType: method.requestType as unknown as MessageCodec,
    responseType: method.responseType as unknown as MessageCodec,
    unary: !method.requestStream && !method.responseStream,
  };
  // Both spellings: a caller cannot get it subtly wrong.
  BY_NAME.set(method.name, entry);
  BY_NAME.set(key, entry);
}

/** The method named `name` ("CreateSession" or "createSession"), if AgentService has it. */
export function agentMethod(name: string): AgentMethod | undefined {
  return BY_NAME.get(name);
}

/** What a decoded request of `method` (an entry, or its name) says about where it must run. */
export function routeKeysOf(method: AgentMethod | string, request: unknown): RouteKeys {
  const entry = typeof method === 'string' ? agentMethod(method) : method;
  const extract = entry && (ROUTE_KEYS[entry.key as UnaryAgentMethodKey] as ((r: unknown) => RouteKeys) | undefined);
  return extract && request && typeof request === 'object' ? extract(request) : keys({});
}

/** The request re-encoded to name `repo` when it named none and the method allows it; else undefined. */
export function withRouteRepo(method: AgentMethod, request: unknown, repo: string): Uint8Array | undefined {
  const fill = WITH_REPO[method.key as UnaryAgentMethodKey] as ((r: unknown, repo: string) => unknown) | undefined;
  const filled = fill && repo ? fill(request, repo) : undefined;
  return filled === undefined ? undefined : method.requestType.encode(filled).finish();
}
