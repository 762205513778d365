import { Status } from 'nice-grpc-common';

/** Trailer key that carries the machine-readable reason of a failed call. */
export const REASON_TRAILER = 'grove-reason';

/**
 * The one error type that domain and adapter code throws on purpose. `reason` is a stable
 * UPPER_SNAKE identifier clients can switch on; `message` is for people.
 */
export class GroveError extends Error {
  constructor(
    readonly code: Status,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'GroveError';
  }
}

export const invalidArgument = (reason: string, message: string) => new GroveError(Status.INVALID_ARGUMENT, reason, message);
export const notFound = (reason: string, message: string) => new GroveError(Status.NOT_FOUND, reason, message);
export const alreadyExists = (reason: string, message: string) => new GroveError(Status.ALREADY_EXISTS, reason, message);
export const failedPrecondition = (reason: string, message: string) => new GroveError(Status.FAILED_PRECONDITION, reason, message);
export const outOfRange = (reason: string, message: string) => new GroveError(Status.OUT_OF_RANGE, reason, message);
export const unavailable = (reason: string, message: string) => new GroveError(Status.UNAVAILABLE, reason, message);
export const unimplemented = (capability: string) =>
  new GroveError(Status.UNIMPLEMENTED, 'NOT_BUILT_YET', `${capability} is not built yet in this version of grove`);
export const unauthenticated = (reason: string, message: string) => new GroveError(Status.UNAUTHENTICATED, reason, message);
export const resourceExhausted = (reason: string, message: string) => new GroveError(Status.RESOURCE_EXHAUSTED, reason, message);
export const deadlineExceeded = (reason: string, message: string) => new GroveError(Status.DEADLINE_EXCEEDED, reason, message);
