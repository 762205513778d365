import { ClientError, Status } from 'nice-grpc-common';
import type { GroveReason } from '../../wire/reasons.js';

/**
 * A failed call, re-created from the gRPC status and the server's `grove-reason` trailer.
 * It is a nice-grpc `ClientError` (code, details, path), so code written for nice-grpc
 * handles it as one, with `reason` added: the stable UPPER_SNAKE identifier to switch on
 * (`REPO_NOT_FOUND`, `PATH_NOT_FOUND`, ..., catalogued in `GROVE_REASONS`); it is empty when
 * the failure never reached a grove handler (connection refused, client-side deadline), and
 * may be one this SDK does not know yet when the service is newer.
 */
export class GroveClientError extends ClientError {
  constructor(
    code: Status,
    readonly reason: GroveReason | (string & {}),
    details: string,
    /** `/package.Service/Method` of the failed call. */
    path: string,
    options?: ErrorOptions,
  ) {
    super(path, code, details);
    // People read the code and the reason first; the path is on the error for programs.
    this.message = `${Status[code] ?? code}${reason ? ` (${reason})` : ''}: ${details}`;
    this.name = 'GroveClientError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
