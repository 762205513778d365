import type { ServiceDefinition } from '@grpc/grpc-js';

const identity = (bytes: Buffer) => bytes;

/**
 * A one-method service of raw bytes in and out: no protobuf and no handler work, so calls
 * to it measure only the gRPC stack serving them. grpc-js and nice-grpc both accept it.
 */
export const PING_SERVICE = {
  ping: {
    path: '/grove.bench.Ping/Ping',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} satisfies ServiceDefinition;

export const EMPTY_REQUEST = Buffer.alloc(0);
