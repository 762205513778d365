import { AgentServiceDefinition, type AgentServiceClient } from '../../gen/grove/agent/v1/agent_service.js';
import type { Event } from '../../gen/grove/agent/v1/resources.js';
import type { GroveClientOptions } from './client-options.js';
import { directUnaryMethods } from './direct-unary.js';
import { createGroveChannel } from './grove-channel.js';
import { createGroveClientFactory, unarySettings, type GroveCallOptions } from './grove-client-factory.js';
import { resumingWatch, type WatchOptions } from './resuming-watch.js';

/**
 * Every AgentService method (deadline on unary calls, bearer token, typed errors), plus a
 * resuming `watch` and `close`.
 */
export interface AgentClient extends AgentServiceClient<GroveCallOptions> {
  /** The agent's events, resumed transparently across reconnects; see `resumingWatch`. */
  watch(options?: WatchOptions): AsyncIterable<Event>;
  /** Closes the channel: later calls fail; close it when done so the process can exit. */
  close(): void;
}

export function createAgentClient(options: GroveClientOptions): AgentClient {
  const channel = createGroveChannel(options);
  const streams = createGroveClientFactory(options).create(AgentServiceDefinition, channel);
  const rpc: typeof streams = { ...streams, ...directUnaryMethods(AgentServiceDefinition, channel, unarySettings(options)) };
  return {
    ...rpc,
    watch: (watchOptions) => resumingWatch(rpc, watchOptions),
    close: () => channel.close(),
  };
}
