import { CoordinatorServiceDefinition, type CoordinatorServiceClient } from '../../gen/grove/coordinator/v1/coordinator_service.js';
import type { GroveClientOptions } from './client-options.js';
import { directUnaryMethods } from './direct-unary.js';
import { createGroveChannel } from './grove-channel.js';
import { createGroveClientFactory, unarySettings, type GroveCallOptions } from './grove-client-factory.js';
import { resumingCoordinatorWatch, type CoordinatorWatchOptions } from './resuming-coordinator-watch.js';

/**
 * Every CoordinatorService method (deadline on unary calls, bearer token, typed errors),
 * plus `watchChanges` and `close`. `watch` is the raw CoordinatorService.Watch stream;
 * `watchChanges` resumes it across disconnects and slow-subscriber cut-offs.
 */
export interface CoordinatorClient extends CoordinatorServiceClient<GroveCallOptions> {
  watchChanges(options?: CoordinatorWatchOptions): ReturnType<typeof resumingCoordinatorWatch>;
  /** Closes the channel: later calls fail; close it when done so the process can exit. */
  close(): void;
}

export function createCoordinatorClient(options: GroveClientOptions): CoordinatorClient {
  const channel = createGroveChannel(options);
  const streams = createGroveClientFactory(options).create(CoordinatorServiceDefinition, channel);
  const rpc: typeof streams = { ...streams, ...directUnaryMethods(CoordinatorServiceDefinition, channel, unarySettings(options)) };
  return { ...rpc, watchChanges: (watchOptions) => resumingCoordinatorWatch(rpc, watchOptions), close: () => channel.close() };
}
