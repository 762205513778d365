import { Status } from 'nice-grpc-common';

/**
 * A failed call, re-created from the gRPC status and the server's `grove-reason` trailer.
 * `reason` is the stable UPPER_SNAKE identifier to switch on (`REPO_NOT_FOUND`,
 * `PATH_NOT_FOUND`, ...); it is empty when the failure never reached a grove handler
 * (connection refused, client-side deadline). `details` is the server's message for people.
 */
export class GroveClientError extends Error {
  constructor(
    readonly code: Status,
    readonly reason: string,
    readonly details: string,
    /** `/package.Service/Method` of the failed call. */
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(`${Status[code] ?? code}${reason ? ` (${reason})` : ''}: ${details}`, options);
    this.name = 'GroveClientError';
  }
}
