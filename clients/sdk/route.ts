import type { CallOptions } from 'nice-grpc-common';
import type { AgentServiceClient } from '../../gen/grove/agent/v1/agent_service.js';
import { agentMethod, type UnaryAgentMethodKey } from '../../wire/agent-methods.js';
import type { CoordinatorServiceClient } from '../../gen/grove/coordinator/v1/coordinator_service.js';
import type { GroveCallOptions } from './grove-client-factory.js';

/** AgentService methods a coordinator can forward: the unary ones, by their client name. */
export type UnaryAgentMethod = UnaryAgentMethodKey;

/** What the agent client takes for `method`: a partial request, defaults filled in. */
export type AgentRequest<M extends UnaryAgentMethod> = Parameters<AgentServiceClient[M]>[0];
/** What the agent answers to `method`. */
export type AgentResponse<M extends UnaryAgentMethod> = Awaited<ReturnType<AgentServiceClient[M]>>;

/** Which agent a routed call goes to; see CoordinatorService.Route for how it is chosen. */
export interface RouteTarget {
  /** Agent id or name; else the owner of the ids the request carries, else by selector. */
  agent?: string | undefined;
  /** `k=v,k2=v2`: labels the chosen agent must have. */
  labelSelector?: string | undefined;
  /** The chosen agent must have a repo of this name or id. */
  hasRepo?: string | undefined;
}

/** The agent that answered a routed call. */
export interface RoutedAgent {
  id: string;
  name: string;
}

export interface RoutedResponse<T> {
  response: T;
  agent: RoutedAgent;
}

/**
 * Calls AgentService `method` on an agent through the coordinator's Route: the request is
 * encoded with the method's own message type and the answer decoded with its response
 * type, so a routed call reads like a direct one. Errors of the agent arrive as the same
 * GroveClientError a direct call would throw.
 */
export async function routeAgentCall<M extends UnaryAgentMethod>(
  coordinator: CoordinatorServiceClient<GroveCallOptions>,
  method: M,
  request: AgentRequest<M>,
  target: RouteTarget = {},
  options: CallOptions & GroveCallOptions = {},
): Promise<RoutedResponse<AgentResponse<M>>> {
  // The one registry of AgentService methods (wire/agent-methods.ts), shared with the services.
  const definition = agentMethod(method)!;
  const encoded = definition.requestType.encode(definition.requestType.fromPartial(request)).finish();
  // The generated RouteRequest (env=node) wants a Buffer; this one shares the bytes.
  const body = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  // With a deadline, the agent gets the time the caller will wait, so the command does not
  // outlive the call; without one the coordinator's own default applies.
  const { deadline } = options;
  const timeoutMs =
    deadline === undefined ? 0 : Math.max(1, Math.round(deadline instanceof Date ? deadline.getTime() - Date.now() : deadline));
  const routed = await coordinator.route(
    {
      agent: target.agent ?? '',
      labelSelector: target.labelSelector ?? '',
      hasRepo: target.hasRepo ?? '',
      method: definition.name,
      request: body,
      timeoutMs,
    },
    options,
  );
  return {
    response: definition.responseType.decode(routed.response) as AgentResponse<M>,
    agent: { id: routed.agentId, name: routed.agentName || routed.agentId },
  };
}
