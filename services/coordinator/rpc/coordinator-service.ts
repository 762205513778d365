import type { Event, Job, Repo, Session, Task } from '../../../gen/grove/agent/v1/resources.js';
import {
  AgentStatus,
  CoordinatorServiceDefinition,
  type CoordinatorServiceImplementation,
  type WatchResponse,
} from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import { failedPrecondition, invalidArgument, notFound } from '../../common/errors.js';
import { matchesLabels, parseLabels } from '../../common/paging.js';
import { withUnimplemented } from '../../common/unimplemented.js';
import type { AgentRecord, AgentRegistry } from '../agents/agent-registry.js';
import { deriveAgentStatus, type AgentStatusName, type StatusPolicy } from '../agents/agent-status.js';
import type { LinkHub } from '../link/link-hub.js';
import type { AgentProjection } from '../projection/agent-projection.js';
import type { Projection } from '../projection/projection.js';
import { byKey, pageOf } from './page.js';
import { toAgentProto, toAgentStatusProto, toSessionView } from './views.js';

export interface CoordinatorServiceDeps {
  registry: AgentRegistry;
  hub: LinkHub;
  projection: Projection;
  policy: StatusPolicy;
  /** Aborted when the coordinator shuts down: watches end. */
  shutdown: AbortSignal;
}

/** One agent as a request sees it: what the registry knows, how reachable it is, what it owns. */
interface AgentInScope {
  record: AgentRecord;
  status: AgentStatusName;
  projection: AgentProjection | undefined;
}

export function coordinatorCapabilityOf(method: string): string {
  if (method === 'route') return 'routing';
  return method;
}

/** An agent's event as the coordinator shows it: owned by the agent, sessions as listed. */
function toEventView(event: Event, agent: AgentInScope): Event {
  const payload = event.payload;
  switch (payload?.$case) {
    case 'session':
      return { ...event, payload: { $case: 'session', value: toSessionView(payload.value, agent.record, agent.status) } };
    case 'task':
      return { ...event, payload: { $case: 'task', value: { ...payload.value, agentId: agent.record.id } } };
    case 'job':
      return { ...event, payload: { $case: 'job', value: { ...payload.value, agentId: agent.record.id } } };
    default:
      return event;
  }
}

/**
 * Thin handlers over the registry and the projection: everything is answered from memory,
 * so a list is one consistent read and its `revision` is the projection's at that moment.
 */
export function createCoordinatorServiceImpl(deps: CoordinatorServiceDeps): CoordinatorServiceImplementation {
  const { registry, hub, projection, policy } = deps;

  const inScope = (record: AgentRecord, now: number): AgentInScope => ({
    record,
    status: deriveAgentStatus({ linkOpen: hub.isOpen(record.id), lastSeen: record.lastSeen }, now, policy),
    projection: projection.of(record.id),
  });

  /** Every agent, or those `agent` names by id or name; an unknown name selects none. */
  const agentsNamed = (agent: string): AgentInScope[] => {
    const now = Date.now();
    return (agent ? registry.lookup(agent) : registry.list()).map((record) => inScope(record, now));
  };

  /** Gathers one kind of resource across the agents in scope, sorted by `keyOf` for paging. */
  function gather<T>(
    agents: AgentInScope[],
    pick: (agent: AgentInScope & { projection: AgentProjection }) => T[],
    keyOf: (item: T) => string,
  ): T[] {
    const items: T[] = [];
    for (const agent of agents) {
      if (agent.projection) items.push(...pick({ ...agent, projection: agent.projection }));
    }
    return items.sort(byKey(keyOf));
  }

  const built: Partial<CoordinatorServiceImplementation> = {
    /**
     * With initial_snapshot: the current state (each agent, then its resources) at one
     * revision, a snapshot_done marker, then changes after it. Otherwise changes after
     * from_revision, or OUT_OF_RANGE when they are no longer retained.
     */
    async *watch(request, context) {
      const signal = AbortSignal.any([context.signal, deps.shutdown]);
      const wanted = (agentId: string) =>
        !request.agent || agentId === request.agent || registry.get(agentId)?.name === request.agent;
      let after = request.fromRevision;
      if (request.initialSnapshot) {
        // Built in one synchronous pass so it is exactly the state at `revision`.
        const revision = projection.revision;
        const initial: WatchResponse[] = [];
        for (const agent of agentsNamed(request.agent)) {
          const agentId = agent.record.id;
          const described = toAgentProto(agent.record, agent.status, agent.projection);
          initial.push({ revision, agentId, change: { $case: 'agent', value: described }, snapshotDone: false });
          for (const event of agent.projection?.snapshotEvents() ?? []) {
            const value = toEventView(event, agent);
            initial.push({ revision, agentId, change: { $case: 'event', value }, snapshotDone: false });
          }
        }
        yield* initial;
        yield { revision, agentId: '', change: undefined, snapshotDone: true };
        after = revision;
      }
      for await (const change of projection.watch(after, signal)) {
        if (!wanted(change.agentId)) continue;
        const record = registry.get(change.agentId);
        const body = change.body;
        yield {
          revision: change.revision,
          agentId: change.agentId,
          change:
            body.$case === 'event' && record
              ? { $case: 'event', value: toEventView(body.value, inScope(record, Date.now())) }
              : body,
          snapshotDone: false,
        };
      }
    },

    async listAgents(request) {
      const selector = parseLabels(request.labelSelector);
      const revision = projection.revision;
      const wanted = request.status === AgentStatus.AGENT_STATUS_UNSPECIFIED ? undefined : request.status;
      const agents = agentsNamed('').filter(
        (agent) =>
          (wanted === undefined || toAgentStatusProto(agent.status) === wanted) &&
          matchesLabels(agent.record.labels, selector),
      );
      const { page, nextPageToken } = pageOf(agents, request, (agent) => agent.record.id);
      return {
        agents: page.map((agent) => toAgentProto(agent.record, agent.status, agent.projection)),
        nextPageToken,
        revision,
      };
    },

    async getAgent(request) {
      if (!request.agent) throw invalidArgument('AGENT_REQUIRED', 'an agent id or name is required');
      const matches = agentsNamed(request.agent);
      const [agent] = matches;
      if (!agent) throw notFound('AGENT_NOT_FOUND', `no agent "${request.agent}" has ever linked to this coordinator`);
      if (matches.length > 1) {
        throw failedPrecondition(
          'AMBIGUOUS_AGENT_NAME',
          `${matches.length} agents are named "${request.agent}"; use an id: ${matches.map((m) => m.record.id).join(', ')}`,
        );
      }
      return toAgentProto(agent.record, agent.status, agent.projection);
    },

    async listSessions(request) {
      const selector = parseLabels(request.labelSelector);
      const revision = projection.revision;
      const sessions = gather<Session>(
        agentsNamed(request.agent),
        ({ record, status, projection: owned }) =>
          [...owned.sessions.values()]
            .filter(
              (session) =>
                (!request.state || session.state === request.state) &&
                (!request.repo || session.worktrees.some((w) => w.repoId === request.repo || w.repoName === request.repo)) &&
                matchesLabels(session.labels, selector),
            )
            .map((session) => toSessionView(session, record, status)),
        (session) => session.id,
      );
      const { page, nextPageToken } = pageOf(sessions, request, (session) => session.id);
      return { sessions: page, nextPageToken, revision };
    },

    async getSession(request) {
      if (!request.id) throw invalidArgument('SESSION_REQUIRED', 'a session id is required');
      for (const agent of agentsNamed('')) {
        const session = agent.projection?.sessions.get(request.id);
        if (session) return toSessionView(session, agent.record, agent.status);
      }
      throw notFound('SESSION_NOT_FOUND', `no agent reports a session "${request.id}"`);
    },

    async listTasks(request) {
      const revision = projection.revision;
      const tasks = gather<Task>(
        agentsNamed(request.agent),
        ({ record, projection: owned }) =>
          [...owned.tasks.values()]
            .filter(
              (task) =>
                (!request.sessionId || task.sessionId === request.sessionId) &&
                (!request.state || task.state === request.state),
            )
            .map((task) => ({ ...task, agentId: record.id })),
        (task) => task.id,
      );
      const { page, nextPageToken } = pageOf(tasks, request, (task) => task.id);
      return { tasks: page, nextPageToken, revision };
    },

    async listJobs(request) {
      const revision = projection.revision;
      const jobs = gather<Job>(
        agentsNamed(request.agent),
        ({ record, projection: owned }) => {
          // `repo` may be a name; names are per agent, so resolve it in each agent's repos.
          const repoIds = new Set(
            [...owned.repos.values()].filter((r) => r.id === request.repo || r.name === request.repo).map((r) => r.id),
          );
          return [...owned.jobs.values()]
            .filter(
              (job) =>
                (!request.state || job.state === request.state) &&
                (!request.repo || repoIds.has(job.repoId) || job.repoId === request.repo),
            )
            .map((job) => ({ ...job, agentId: record.id }));
        },
        (job) => job.id,
      );
      const { page, nextPageToken } = pageOf(jobs, request, (job) => job.id);
      return { jobs: page, nextPageToken, revision };
    },

    async listRepos(request) {
      const revision = projection.revision;
      const repos = gather<{ agentId: string; repo: Repo }>(
        agentsNamed(request.agent),
        ({ record, projection: owned }) => [...owned.repos.values()].map((repo) => ({ agentId: record.id, repo })),
        (entry) => entry.repo.id,
      );
      const { page, nextPageToken } = pageOf(repos, request, (entry) => entry.repo.id);
      return { repos: page, nextPageToken, revision };
    },
  };
  return withUnimplemented(CoordinatorServiceDefinition, built, coordinatorCapabilityOf);
}
