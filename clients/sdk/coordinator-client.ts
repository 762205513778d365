import {
  CoordinatorServiceDefinition,
  type CoordinatorServiceClient,
} from '../../gen/grove/coordinator/v1/coordinator_service.js';
import type { GroveClientOptions } from './client-options.js';
import { createGroveChannel } from './grove-channel.js';
import { createGroveClientFactory, type GroveCallOptions } from './grove-client-factory.js';

/**
 * Every CoordinatorService method (deadline on unary calls, bearer token, typed errors),
 * plus `close`. `watch` here is the raw CoordinatorService.Watch stream.
 */
export interface CoordinatorClient extends CoordinatorServiceClient<GroveCallOptions> {
  /** Closes the channel: later calls fail; close it when done so the process can exit. */
  close(): void;
}

export function createCoordinatorClient(options: GroveClientOptions): CoordinatorClient {
  const channel = createGroveChannel(options);
  const rpc = createGroveClientFactory(options).create(CoordinatorServiceDefinition, channel);
  return { ...rpc, close: () => channel.close() };
}
