import type { CallContext } from 'nice-grpc-common';
import {
  AgentStatus,
  CoordinatorServiceDefinition,
  type CoordinatorServiceImplementation,
  type WatchRequest,
  type WatchResponse,
} from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import { checkedEnumFilter } from '../../common/enum-filter.js';
import { failedPrecondition, invalidArgument, notFound } from '../../common/errors.js';
import { JobState, SessionActivity, SessionState, TaskState } from '../../../gen/grove/agent/v1/resources.js';
import type { Logger } from '../../common/logging.js';
import { matchesLabels, parseLabels } from '../../common/paging.js';
import { withUnimplemented } from '../../common/unimplemented.js';
import type { AgentRecord, AgentRegistry } from '../agents/agent-registry.js';
import { deriveAgentStatus, type AgentStatusName, type StatusPolicy } from '../agents/agent-status.js';
import type { LinkHub } from '../link/link-hub.js';
import type { Change, ChangeSubscription } from '../projection/change-log.js';
import { labelFacet, nameFacet, repoIdFacet, repoNameFacet, sessionFacet, stateFacet } from '../projection/projection-index.js';
import type { Projection } from '../projection/projection.js';
import { agentFacet, type FacetFilter, type IndexedRef } from '../projection/resource-index.js';
import { LAST_REVISION_TRAILER, WatchEndedError } from '../projection/watch-ended-error.js';
import { pageFromIndex, pageOf } from './page.js';
import type { TunnelBroker } from '../link/tunnel-broker.js';
import type { GroupService } from '../groups/group-service.js';
import { createRouteHandler } from './route-handler.js';
import { createRoutedStreams } from './routed-streams.js';
import { toAgentProto, toAgentStatusProto, toEventView, toSessionView } from './views.js';

export interface CoordinatorServiceDeps {
  registry: AgentRegistry;
  hub: LinkHub;
  /** Carries routed streams (attach, log follow) from agents. */
  tunnels: TunnelBroker;
  projection: Projection;
  policy: StatusPolicy;
  /** Live changes a watcher may have waiting before it is cut off (RESOURCE_EXHAUSTED). */
  watchBuffer?: number | undefined;
  /** How long a routed call waits for its agent when the client does not say. */
  routeTimeoutMs?: number | undefined;
  /** Called for each watcher cut off for falling behind (counted in the metrics). */
  onWatchCut?: (() => void) | undefined;
  /** Fan-out groups (the coordinator's own records). */
  groups: GroupService;
  /** Aborted when the coordinator shuts down: watches end. */
  shutdown: AbortSignal;
  log: Logger;
}

/** One agent as a request sees it: what the registry knows and how reachable it is. */
interface AgentInScope {
  record: AgentRecord;
  status: AgentStatusName;
}

export function coordinatorCapabilityOf(method: string): string {
  if (method === 'route') return 'routing';
  return method;
}

/** Kinds a watch can be narrowed to: `agent` and `group` changes, and the agent event payloads. */
const WATCH_KINDS = new Set(['agent', 'group', 'repo', 'session', 'task', 'job', 'sync', 'lock', 'stash', 'recovered']);

const kindOf = (response: Pick<WatchResponse, 'change'>): string => {
  const change = response.change;
  if (change?.$case === 'agent' || change?.$case === 'group') return change.$case;
  return change?.value.payload?.$case ?? '';
};

/**
 * Thin handlers over the registry and the projection: everything is answered from memory,
 * so a list is one consistent read and its `revision` is the projection's at that moment.
 * Lists walk the projection's sorted indexes from the page token, so a page costs what the
 * page holds, not what every agent holds.
 */
export function createCoordinatorServiceImpl(deps: CoordinatorServiceDeps): CoordinatorServiceImplementation {
  const { registry, hub, projection, policy, log } = deps;
  const index = projection.index;

  const statusOf = (record: AgentRecord, now: number): AgentStatusName =>
    deriveAgentStatus({ linkOpen: hub.isOpen(record.id), lastSeen: record.lastSeen }, now, policy);

  const loadOf = (agentId: string) => ({
    appliedRevision: projection.of(agentId)?.appliedRevision ?? 0,
    runningTasks: index.runningTasks(agentId),
    queuedTasks: index.queuedTasks(agentId),
  });

  /**
   * The index filter group for `agent` (id or name), or none for every agent. A name that
   * matches no agent gives an empty group, which matches nothing.
   */
  const agentGroup = (agent: string): string[][] => (agent ? [registry.lookup(agent).map((record) => agentFacet(record.id))] : []);

  /** Resolves each agent once per request: a page of 100 sessions is usually a handful of agents. */
  const scopeCache = () => {
    const now = Date.now();
    const cache = new Map<string, AgentInScope | undefined>();
    return (agentId: string): AgentInScope | undefined => {
      if (!cache.has(agentId)) {
        const record = registry.get(agentId);
        cache.set(agentId, record && { record, status: statusOf(record, now) });
      }
      return cache.get(agentId);
    };
  };

  function watchFilter(request: WatchRequest): (agentId: string, response: Pick<WatchResponse, 'change'>) => boolean {
    for (const kind of request.kinds) {
      if (!WATCH_KINDS.has(kind)) {
        throw invalidArgument('BAD_WATCH_KIND', `unknown kind "${kind}"; use one of ${[...WATCH_KINDS].join(', ')}`);
      }
    }
    const kinds = request.kinds.length > 0 ? new Set(request.kinds) : undefined;
    // Checked per change, not resolved once: an agent with that name may link later.
    return (agentId, response) =>
      (!request.agent || agentId === request.agent || registry.get(agentId)?.name === request.agent) &&
      (!kinds || kinds.has(kindOf(response)));
  }

  // One response object per change, shared by every watcher, so that it is encoded once
  // (see served-definition.ts); it lives as long as the change does.
  const responses = new WeakMap<Change, WatchResponse>();
  const toWatchResponse = (change: Change): WatchResponse => {
    let response = responses.get(change);
    if (!response) {
      response = { revision: change.revision, agentId: change.agentId, change: change.body, snapshotDone: false };
      responses.set(change, response);
    }
    return response;
  };

  const built: Partial<CoordinatorServiceImplementation> = {
    async createGroup(request) {
      return { group: await deps.groups.create(request) };
    },
    async listGroups() {
      return { groups: await deps.groups.list() };
    },
    async getGroup(request) {
      return deps.groups.get(request.id);
    },
    async pickGroup(request) {
      return { group: await deps.groups.pick(request) };
    },
    async deleteGroup(request) {
      await deps.groups.remove(request.id);
      return {};
    },
    /**
     * With initial_snapshot: the current state (each agent, then its resources) at one
     * revision, a snapshot_done marker, then changes after it. Otherwise changes after
     * from_revision, or OUT_OF_RANGE when they are no longer retained. A watcher that lets
     * more than the buffer wait is ended RESOURCE_EXHAUSTED after the last change it got.
     */
    async *watch(request, context: CallContext) {
      const signal = AbortSignal.any([context.signal, deps.shutdown]);
      const wanted = watchFilter(request);
      const options = {
        buffer: deps.watchBuffer,
        onCut: (err: WatchEndedError) => {
          deps.onWatchCut?.();
          log.warn({ peer: context.peer, lastRevision: err.lastRevision, err: err.message }, 'slow watcher cut off');
        },
      };
      let subscription: ChangeSubscription | undefined;
      try {
        let initial: WatchResponse[] = [];
        if (request.initialSnapshot) {
          // Built and subscribed in one synchronous pass: exactly the state at `revision`,
          // and every change after it follows.
          const revision = projection.revision;
          const now = Date.now();
          for (const record of request.agent ? registry.lookup(request.agent) : registry.list()) {
            const status = statusOf(record, now);
            const agentId = record.id;
            const described: WatchResponse = {
              revision,
              agentId,
              change: { $case: 'agent', value: toAgentProto(record, status, loadOf(agentId)) },
              snapshotDone: false,
            };
            if (wanted(agentId, described)) initial.push(described);
            for (const event of projection.of(agentId)?.snapshotEvents() ?? []) {
              const response: WatchResponse = {
                revision,
                agentId,
                change: { $case: 'event', value: toEventView(event, record, status) },
                snapshotDone: false,
              };
              if (wanted(agentId, response)) initial.push(response);
            }
          }
          initial.push({ revision, agentId: '', change: undefined, snapshotDone: true });
          subscription = projection.subscribe(revision, options);
        } else {
          subscription = projection.subscribe(request.fromRevision, options);
        }
        yield* initial;
        initial = [];
        for (;;) {
          const change = await subscription.next(signal);
          if (!change) return;
          const response = toWatchResponse(change);
          if (wanted(change.agentId, response)) yield response;
        }
      } catch (err) {
        if (err instanceof WatchEndedError) {
          context.trailer.set(LAST_REVISION_TRAILER, String(err.lastRevision));
          log.info({ peer: context.peer, reason: err.reason, lastRevision: err.lastRevision }, 'watch ended by the coordinator');
        }
        throw err;
      } finally {
        subscription?.close();
      }
    },

    async listAgents(request) {
      const selector = parseLabels(request.labelSelector);
      const revision = projection.revision;
      const wanted = checkedEnumFilter(AgentStatus, request.status, 'status');
      const now = Date.now();
      const agents = registry
        .list()
        .map((record) => ({ record, status: statusOf(record, now) }))
        .filter(
          (agent) => (wanted === undefined || toAgentStatusProto(agent.status) === wanted) && matchesLabels(agent.record.labels, selector),
        );
      const { page, nextPageToken } = pageOf(agents, request, (agent) => agent.record.id);
      return {
        agents: page.map((agent) => toAgentProto(agent.record, agent.status, loadOf(agent.record.id))),
        nextPageToken,
        revision,
      };
    },

    async getAgent(request) {
      if (!request.agent) throw invalidArgument('AGENT_REQUIRED', 'an agent id or name is required');
      const matches = registry.lookup(request.agent);
      const [record] = matches;
      if (!record) throw notFound('AGENT_NOT_FOUND', `no agent "${request.agent}" has ever linked to this coordinator`);
      if (matches.length > 1) {
        throw failedPrecondition(
          'AMBIGUOUS_AGENT_NAME',
          `${matches.length} agents are named "${request.agent}"; use an id: ${matches.map((m) => m.id).join(', ')}`,
        );
      }
      return toAgentProto(record, statusOf(record, Date.now()), loadOf(record.id));
    },

    async listSessions(request) {
      const filter: FacetFilter = [
        ...agentGroup(request.agent),
        ...(checkedEnumFilter(SessionState, request.state, 'state') ? [[stateFacet(request.state)]] : []),
        ...(request.repo ? [[repoIdFacet(request.repo), repoNameFacet(request.repo)]] : []),
        ...Object.entries(parseLabels(request.labelSelector)).map(([k, v]) => [labelFacet(k, v)]),
      ];
      // Activity is derived as the session is shown (UNKNOWN for an agent not heard from), so it filters after the view.
      const activity = checkedEnumFilter(SessionActivity, request.activity, 'activity') ? request.activity : undefined;
      const revision = projection.revision;
      const scope = scopeCache();
      const { page, nextPageToken } = pageFromIndex(index.sessions, filter, request, (ref: IndexedRef) => {
        const agent = scope(ref.agentId);
        const owner = projection.of(ref.agentId);
        const session = owner?.sessions.get(ref.id);
        const view = agent && session && toSessionView(session, agent.record, agent.status, owner?.synced ?? false);
        return view && (!activity || view.activity === activity) ? view : undefined;
      });
      return { sessions: page, nextPageToken, revision };
    },

    async getSession(request) {
      if (!request.id) throw invalidArgument('SESSION_REQUIRED', 'a session id is required');
      const scope = scopeCache();
      for (const owner of index.sessions.ownersOf(request.id)) {
        const agent = scope(owner);
        const state = projection.of(owner);
        const session = state?.sessions.get(request.id);
        if (agent && session) return toSessionView(session, agent.record, agent.status, state?.synced ?? false);
      }
      throw notFound('SESSION_NOT_FOUND', `no agent reports a session "${request.id}"`);
    },

    async listTasks(request) {
      const filter: FacetFilter = [
        ...agentGroup(request.agent),
        ...(request.sessionId ? [[sessionFacet(request.sessionId)]] : []),
        ...(checkedEnumFilter(TaskState, request.state, 'state') ? [[stateFacet(request.state)]] : []),
      ];
      const revision = projection.revision;
      const { page, nextPageToken } = pageFromIndex(index.tasks, filter, request, (ref) => {
        const task = projection.of(ref.agentId)?.tasks.get(ref.id);
        return task && { ...task, agentId: ref.agentId };
      });
      return { tasks: page, nextPageToken, revision };
    },

    async listJobs(request) {
      let repoGroup: string[] = [];
      if (request.repo) {
        // A name is per agent: every repo of that name, on any agent, by its id.
        const named = [...index.repos.scan({ filter: [[nameFacet(request.repo)]] })].map((ref) => ref.id);
        repoGroup = [...new Set([request.repo, ...named])].map(repoIdFacet);
      }
      const filter: FacetFilter = [
        ...agentGroup(request.agent),
        ...(checkedEnumFilter(JobState, request.state, 'state') ? [[stateFacet(request.state)]] : []),
        ...(request.repo ? [repoGroup] : []),
      ];
      const revision = projection.revision;
      const { page, nextPageToken } = pageFromIndex(index.jobs, filter, request, (ref) => {
        const job = projection.of(ref.agentId)?.jobs.get(ref.id);
        return job && { ...job, agentId: ref.agentId };
      });
      return { jobs: page, nextPageToken, revision };
    },

    async listRepos(request) {
      const revision = projection.revision;
      const { page, nextPageToken } = pageFromIndex(index.repos, agentGroup(request.agent), request, (ref) => {
        const repo = projection.of(ref.agentId)?.repos.get(ref.id);
        return repo && { agentId: ref.agentId, repo };
      });
      return { repos: page, nextPageToken, revision };
    },

    ...createRoutedStreams({ registry, hub, projection, policy, tunnels: deps.tunnels, log: log.child({ component: 'streams' }) }),
    route: createRouteHandler({
      registry,
      hub,
      projection,
      policy,
      defaultTimeoutMs: deps.routeTimeoutMs,
      log: log.child({ component: 'route' }),
    }),
  };
  return withUnimplemented(CoordinatorServiceDefinition, built, coordinatorCapabilityOf);
}
