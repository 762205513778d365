import { unimplemented } from './errors.js';

interface MethodShape {
  responseStream: boolean;
}

/**
 * Fills every method of a service definition that `built` does not implement with a handler
 * answering UNIMPLEMENTED and naming the capability, so the whole API surface is served from
 * day one and clients learn exactly what is missing.
 */
export function withUnimplemented<T>(
  definition: { methods: Record<string, MethodShape> },
  built: Partial<T>,
  capabilityOf: (method: string) => string,
): T {
  const implementation: Record<string, unknown> = { ...built };
  for (const [method, shape] of Object.entries(definition.methods)) {
    if (implementation[method]) continue;
    implementation[method] = shape.responseStream
      ? // eslint-disable-next-line require-yield -- a stream that fails before its first message
        async function* notBuilt() {
          throw unimplemented(capabilityOf(method));
        }
      : async () => {
          throw unimplemented(capabilityOf(method));
        };
  }
  return implementation as T;
}
