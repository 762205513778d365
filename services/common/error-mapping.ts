import { ConnectionException } from '@mikro-orm/core';
import { isAbortError } from 'abort-controller-x';
import { Status, ServerError, type CallContext } from 'nice-grpc-common';
import { GroveError, REASON_TRAILER } from './errors.js';
import type { Logger } from './logging.js';
import { guardRequest } from './request-guard.js';

interface MethodShape {
  name?: string;
  requestStream: boolean;
  responseStream: boolean;
}

/** A ts-proto generic definition (`{fullName, methods}`) or a grpc-js one (`{method: {path}}`). */
type AnyDefinition = { fullName?: string; methods?: Record<string, MethodShape> } | Record<string, unknown>;

/** A failure as the wire carries it: a status code, a machine-readable reason, words for people. */
export interface WireFailure {
  code: Status;
  reason: string;
  message: string;
}

// SQLite reports a full disk or an unwritable database by error code; the words are its own.
const STORAGE_FAILURES: Record<string, WireFailure> = {
  SQLITE_FULL: {
    code: Status.RESOURCE_EXHAUSTED,
    reason: 'DISK_FULL',
    message: 'the disk holding the database is full; free space and retry',
  },
  SQLITE_IOERR: {
    code: Status.UNAVAILABLE,
    reason: 'STORAGE_IO_ERROR',
    message: 'the database could not be written (I/O error); retry once the disk is healthy',
  },
  SQLITE_BUSY: { code: Status.UNAVAILABLE, reason: 'STORAGE_BUSY', message: 'the database is busy; retry' },
  SQLITE_READONLY: { code: Status.UNAVAILABLE, reason: 'STORAGE_READONLY', message: 'the database is read-only; check the data directory' },
  ENOSPC: { code: Status.RESOURCE_EXHAUSTED, reason: 'DISK_FULL', message: 'no space left on the device; free space and retry' },
};

// A coordinator's PostgreSQL away (restarting, unreachable, out of connections): worth a retry.
const DATABASE_AWAY: WireFailure = {
  code: Status.UNAVAILABLE,
  reason: 'STORAGE_UNAVAILABLE',
  message: 'the database cannot be reached now; retry',
};
// PostgreSQL's SQLSTATEs for connection trouble (class 08), shutdown (57P0x), no free slots.
const DATABASE_AWAY_CODES = /^(08\d{3}|57P0[1-3]|53300)$/;

function storageFailure(err: unknown): WireFailure | undefined {
  if (err instanceof ConnectionException) return DATABASE_AWAY;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && DATABASE_AWAY_CODES.test(code)) return DATABASE_AWAY;
  // The driver's own dial failing (the server down or unreachable). Handlers dial nothing else:
  // calls to agents go over their links.
  const syscall = (err as { syscall?: unknown } | null)?.syscall;
  if (syscall === 'connect' || syscall === 'getaddrinfo') return DATABASE_AWAY;
  if (typeof code === 'string' && STORAGE_FAILURES[code]) return STORAGE_FAILURES[code];
  // The sqlite3 driver puts the code in the message ("SQLITE_FULL: database or disk is full").
  const message = String((err as Error | null)?.message ?? '');
  const named = Object.keys(STORAGE_FAILURES).find((c) => message.startsWith(`${c}:`) || message.includes(` ${c}:`));
  return named ? STORAGE_FAILURES[named] : undefined;
}

/**
 * The one place an error thrown by a handler becomes a wire failure, for direct calls and
 * for commands over the link alike: GroveError keeps its code and reason; a full or broken
 * disk is named as such; anything else is a bug, logged with its stack and answered INTERNAL
 * with no detail, so no SQL, path or stack trace ever reaches a client.
 */
export function toWireFailure(err: unknown, log: Logger, method: string): WireFailure {
  if (err instanceof GroveError) return { code: err.code, reason: err.reason, message: err.message };
  if (err instanceof ServerError) return { code: err.code, reason: '', message: err.details };
  const storage = storageFailure(err);
  if (storage) {
    log.warn({ err, method }, 'storage failure in handler');
    return storage;
  }
  log.error({ err, method }, 'unhandled error in handler');
  return { code: Status.INTERNAL, reason: 'INTERNAL', message: 'internal error; the service log has the details' };
}

/** Maps a handler's error for a direct gRPC call: the status, plus the reason in a trailer. */
export function toServerError(err: unknown, context: CallContext, log: Logger, method: string): unknown {
  if (isAbortError(err)) return err;
  const failure = toWireFailure(err, log, method);
  if (failure.reason) context.trailer.set(REASON_TRAILER, failure.reason);
  return new ServerError(failure.code, failure.message);
}

/**
 * Wraps every handler of a service implementation with `toServerError`. A wrapper per
 * handler rather than a server middleware: nice-grpc runs each middleware as a layer of
 * async generators on every call, which costs a unary call measurably more.
 */
export function withErrorMapping<T extends object>(definition: AnyDefinition, implementation: T, log: Logger): T {
  const methods = ('methods' in definition && definition.methods ? definition.methods : definition) as Record<string, MethodShape>;
  const service = typeof definition.fullName === 'string' ? definition.fullName : '';
  const wrapped: Record<string, unknown> = { ...(implementation as Record<string, unknown>) };
  for (const [key, shape] of Object.entries(methods)) {
    const handler = (implementation as Record<string, unknown>)[key];
    if (typeof handler !== 'function') continue;
    const method = `${service}/${shape.name ?? key}`;
    const call = handler as (request: unknown, context: CallContext) => unknown;
    wrapped[key] = shape.responseStream
      ? async function* mapped(request: unknown, context: CallContext) {
          try {
            guardRequest(request);
            yield* call.call(implementation, request, context) as AsyncIterable<unknown>;
          } catch (err) {
            throw toServerError(err, context, log, method);
          }
        }
      : async (request: unknown, context: CallContext) => {
          try {
            if (!shape.requestStream) guardRequest(request);
            return await call.call(implementation, request, context);
          } catch (err) {
            throw toServerError(err, context, log, method);
          }
        };
  }
  return wrapped as T;
}
