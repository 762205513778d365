export { createAgentClient, type AgentClient } from './agent-client.js';
export { createCoordinatorClient, type CoordinatorClient } from './coordinator-client.js';
export {
  directAgentCaller,
  routedAgentCaller,
  type AgentCaller,
  type AgentReply,
  type DirectAgentCaller,
  type RoutedAgentCaller,
} from './agent-caller.js';
export {
  routeAgentCall,
  type AgentRequest,
  type AgentResponse,
  type RoutedAgent,
  type RoutedResponse,
  type RouteTarget,
  type UnaryAgentMethod,
} from './route.js';
export { DEFAULT_DEADLINE_MS, type GroveClientOptions } from './client-options.js';
export type { GroveCallOptions } from './grove-client-factory.js';
export type { DeadlineCallOptions } from './call-middleware.js';
export { GroveClientError } from './grove-client-error.js';
// The wire contract: every reason a failed call may carry, and the trailers that carry them.
export { GROVE_REASONS, isGroveReason, type GroveReason } from '../../wire/reasons.js';
export { LAST_REVISION_TRAILER, REASON_TRAILER, ROUTED_AGENT_TRAILER } from '../../wire/trailers.js';
export { RevisionCompactedError } from './revision-compacted-error.js';
export { resumingWatch, type ReconnectInfo, type WatchOptions } from './resuming-watch.js';
export { resumingCoordinatorWatch, type CoordinatorWatchOptions } from './resuming-coordinator-watch.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { Status } from 'nice-grpc-common';
