import { Status } from 'nice-grpc-common';

import type { GroveReason } from '../../wire/reasons.js';

export { REASON_TRAILER } from '../../wire/trailers.js';

/**
 * The one error type that domain and adapter code throws on purpose. `reason` is a stable
 * UPPER_SNAKE identifier clients can switch on; `message` is for people.
 */
export class GroveError extends Error {
  constructor(
    readonly code: Status,
    readonly reason: GroveReason,
    message: string,
  ) {
    super(message);
    this.name = 'GroveError';
  }
}

export const invalidArgument = (reason: GroveReason, message: string) => new GroveError(Status.INVALID_ARGUMENT, reason, message);
export const notFound = (reason: GroveReason, message: string) => new GroveError(Status.NOT_FOUND, reason, message);
export const alreadyExists = (reason: GroveReason, message: string) => new GroveError(Status.ALREADY_EXISTS, reason, message);
export const failedPrecondition = (reason: GroveReason, message: string) => new GroveError(Status.FAILED_PRECONDITION, reason, message);
export const outOfRange = (reason: GroveReason, message: string) => new GroveError(Status.OUT_OF_RANGE, reason, message);
export const unavailable = (reason: GroveReason, message: string) => new GroveError(Status.UNAVAILABLE, reason, message);
export const unimplemented = (capability: string) =>
  new GroveError(Status.UNIMPLEMENTED, 'NOT_BUILT_YET', `${capability} is not built yet in this version of grove`);
export const unauthenticated = (reason: GroveReason, message: string) => new GroveError(Status.UNAUTHENTICATED, reason, message);
export const resourceExhausted = (reason: GroveReason, message: string) => new GroveError(Status.RESOURCE_EXHAUSTED, reason, message);
export const deadlineExceeded = (reason: GroveReason, message: string) => new GroveError(Status.DEADLINE_EXCEEDED, reason, message);
export const permissionDenied = (reason: GroveReason, message: string) => new GroveError(Status.PERMISSION_DENIED, reason, message);
