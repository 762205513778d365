import { CoordinatorServiceDefinition, WatchResponse } from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import { encodeOnce } from './encode-once.js';

/**
 * CoordinatorService as served: the generated definition, except that Watch encodes each
 * response object once however many watchers it goes to (the handler hands every watcher
 * of a change the same object). Clients use the generated definition as is.
 */
export const ServedCoordinatorServiceDefinition: typeof CoordinatorServiceDefinition = {
  ...CoordinatorServiceDefinition,
  methods: {
    ...CoordinatorServiceDefinition.methods,
    watch: {
      ...CoordinatorServiceDefinition.methods.watch,
      responseType: encodeOnce(WatchResponse),
    },
  },
};
