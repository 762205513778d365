import type { CallOptions } from 'nice-grpc-common';
import type { AgentClient } from './agent-client.js';
import type { CoordinatorClient } from './coordinator-client.js';
import type { GroveCallOptions } from './grove-client-factory.js';
import {
  routeAgentCall,
  type AgentRequest,
  type AgentResponse,
  type RoutedAgent,
  type RouteTarget,
  type UnaryAgentMethod,
} from './route.js';

export interface AgentReply<T> {
  response: T;
  /** The agent the coordinator sent the call to; undefined for a direct call. */
  agent: RoutedAgent | undefined;
}

interface CallerBase {
  /**
   * One unary AgentService call. `target` narrows where a routed call goes (on top of the
   * caller's own target); a direct call ignores it, the agent being already chosen.
   */
  call<M extends UnaryAgentMethod>(
    method: M,
    request: AgentRequest<M>,
    target?: RouteTarget,
    options?: CallOptions & GroveCallOptions,
  ): Promise<AgentReply<AgentResponse<M>>>;
}

/** Calls go straight to one agent; streams (logs, events) are available too. */
export interface DirectAgentCaller extends CallerBase {
  readonly kind: 'direct';
  readonly agent: AgentClient;
}

/** Calls go through a coordinator's Route; only unary calls can be routed. */
export interface RoutedAgentCaller extends CallerBase {
  readonly kind: 'routed';
  readonly coordinator: CoordinatorClient;
  /** What every call is routed by unless a call says otherwise, e.g. `{agent: 'demo-a'}`. */
  readonly target: RouteTarget;
}

/**
 * AgentService calls made the same way whether they go to an agent directly or through a
 * coordinator, so one command implementation serves both.
 */
export type AgentCaller = DirectAgentCaller | RoutedAgentCaller;

export function directAgentCaller(agent: AgentClient): DirectAgentCaller {
  return {
    kind: 'direct',
    agent,
    async call(method, request, _target, options) {
      // Every unary method has this shape; indexing by a union of names loses it.
      const invoke = agent[method] as (request: unknown, options?: CallOptions & GroveCallOptions) => Promise<unknown>;
      const response = await invoke.call(agent, request, options);
      return { response: response as AgentResponse<typeof method>, agent: undefined };
    },
  };
}

export function routedAgentCaller(coordinator: CoordinatorClient, target: RouteTarget = {}): RoutedAgentCaller {
  return {
    kind: 'routed',
    coordinator,
    target,
    async call(method, request, callTarget = {}, options) {
      const merged: RouteTarget = {
        agent: callTarget.agent || target.agent,
        labelSelector: callTarget.labelSelector || target.labelSelector,
        hasRepo: callTarget.hasRepo || target.hasRepo,
      };
      return routeAgentCall(coordinator, method, request, merged, options);
    },
  };
}
