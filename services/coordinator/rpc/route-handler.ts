import { ServerError, Status, type CallContext } from 'nice-grpc-common';
import type { RouteRequest, RouteResponse } from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import { GroveError, invalidArgument } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import { parseLabels } from '../../common/paging.js';
import type { AgentRegistry } from '../agents/agent-registry.js';
import { deriveAgentStatus, type StatusPolicy } from '../agents/agent-status.js';
import type { LinkHub } from '../link/link-hub.js';
import { nameFacet, type ProjectionIndex } from '../projection/projection-index.js';
import type { Projection } from '../projection/projection.js';
import { agentFacet, type ResourceIndex } from '../projection/resource-index.js';
import { agentMethod, routeKeysOf, withRouteRepo, type OwnedKind, type RouteKeys } from '../../../wire/agent-methods.js';
import { chooseAgent, resolveKeys, type RouteAsk, type RouteCandidate } from '../routing/route-target.js';

export const DEFAULT_ROUTE_TIMEOUT_MS = 30_000;
/** Trailer naming the agent a routed call went to, on success and failure alike. */
import { ROUTED_AGENT_TRAILER } from '../../../wire/trailers.js';
import type { GroveReason } from '../../../wire/reasons.js';

export { ROUTED_AGENT_TRAILER };

export interface RouteDeps {
  registry: AgentRegistry;
  hub: LinkHub;
  projection: Projection;
  policy: StatusPolicy;
  defaultTimeoutMs?: number | undefined;
  log: Logger;
}

function ownedIndex(index: ProjectionIndex, kind: OwnedKind): Pick<ResourceIndex<unknown>, 'ownersOf'> {
  switch (kind) {
    case 'session':
      return index.sessions;
    case 'task':
      return index.tasks;
    case 'job':
      return index.jobs;
    case 'repo':
      return index.repos;
    case 'lock':
      return index.locks;
  }
}

/**
 * Route: decode the request (to find the ids it names), choose the agent, send the call
 * over its link as a command, and answer the agent's response — or its error with the same
 * code, message and reason. Every choice is made from memory, so an agent that cannot be
 * reached is reported at once, not after a timeout.
 */
const MAX_ROUTE_TIMEOUT_MS = 24 * 3_600_000;

/** Chooses the agent a call goes to, from what its request names and what the caller asked. */
/** Every registered agent as routing weighs it, now. */
export function routeCandidates(deps: Pick<RouteDeps, 'registry' | 'hub' | 'projection' | 'policy'>): () => RouteCandidate[] {
  const { registry, hub, projection, policy } = deps;
  const index = projection.index;
  return () => {
    const now = Date.now();
    return registry.list().map((record) => ({
      id: record.id,
      name: record.name,
      labels: record.labels,
      status: deriveAgentStatus({ linkOpen: hub.isOpen(record.id), lastSeen: record.lastSeen }, now, policy),
      lastSeen: record.lastSeen,
      runningTasks: index.runningTasks(record.id),
      maxRunningTasks: record.maxRunningTasks,
      hasRepo: (idOrName) =>
        index.repos.ownersOf(idOrName).includes(record.id) ||
        (index.repos.count(nameFacet(idOrName)) > 0 &&
          !index.repos.scan({ filter: [[agentFacet(record.id)], [nameFacet(idOrName)]] }).next().done),
    }));
  };
}

export function agentChooser(deps: Pick<RouteDeps, 'registry' | 'hub' | 'projection' | 'policy'>) {
  const index = deps.projection.index;
  const candidates = routeCandidates(deps);
  return (keys: RouteKeys, ask: RouteAsk): RouteCandidate => {
    // A named agent answers for its own ids; only unnamed calls need the projection's owners.
    const resolved = ask.agent ? { owners: [], repoNames: [] } : resolveKeys(keys, (kind, id) => ownedIndex(index, kind).ownersOf(id));
    return chooseAgent(candidates(), ask, resolved);
  };
}

export function createRouteHandler(deps: RouteDeps): (request: RouteRequest, context: CallContext) => Promise<RouteResponse> {
  const { hub, log } = deps;
  const choose = agentChooser(deps);

  return async function route(request, context) {
    const method = agentMethod(request.method);
    if (!method) {
      throw invalidArgument('UNKNOWN_METHOD', `grove.agent.v1.AgentService has no method "${request.method}"`);
    }
    if (!method.unary) {
      throw invalidArgument(
        'STREAMING_NOT_ROUTABLE',
        `${method.name} streams, and only unary methods can be routed; call the agent directly`,
      );
    }
    // Node timers overflow past 2^31-1 ms (and fire at once): a day is plenty for any command.
    if (request.timeoutMs < 0 || request.timeoutMs > MAX_ROUTE_TIMEOUT_MS) {
      throw invalidArgument('BAD_TIMEOUT', `timeout_ms must be between 0 and ${MAX_ROUTE_TIMEOUT_MS}`);
    }
    let decoded: unknown;
    try {
      decoded = method.requestType.decode(request.request);
    } catch (err) {
      throw invalidArgument('BAD_ROUTE_REQUEST', `request is not an encoded ${method.name} request: ${(err as Error).message}`);
    }
    const ask = {
      agent: request.agent,
      labels: parseLabels(request.labelSelector),
      repos: request.hasRepo ? [request.hasRepo] : [],
    };
    const agent = choose(routeKeysOf(method, decoded), ask);
    context.trailer.set(ROUTED_AGENT_TRAILER, agent.id);

    const body = withRouteRepo(method, decoded, request.hasRepo) ?? request.request;
    const timeoutMs = request.timeoutMs > 0 ? request.timeoutMs : (deps.defaultTimeoutMs ?? DEFAULT_ROUTE_TIMEOUT_MS);
    const result = await hub.sendCommand(agent.id, method.name, body, timeoutMs, { signal: context.signal });
    log.debug({ agent: agent.id, method: method.name, code: result.code }, 'routed');
    if (result.code !== Status.OK) {
      // The agent's own error, as if the client had called it directly.
      // Relayed as the agent said it: a newer agent may name a reason this coordinator does not know.
      if (result.reason) throw new GroveError(result.code, result.reason as GroveReason, result.message);
      throw new ServerError(result.code, result.message);
    }
    return { agentId: agent.id, agentName: agent.name, response: result.response };
  };
}
