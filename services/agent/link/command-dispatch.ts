import { isAbortError } from 'abort-controller-x';
import { Metadata, Status, type CallContext } from 'nice-grpc-common';
import type { AgentServiceImplementation } from '../../../gen/grove/agent/v1/agent_service.js';
import { agentMethod } from '../../../wire/agent-methods.js';
import type { Command, CommandResult } from '../../../gen/grove/link/v1/link.js';
import { GroveError } from '../../common/errors.js';
import { toWireFailure } from '../../common/error-mapping.js';
import { guardRequest } from '../../common/request-guard.js';
import type { Logger } from '../../common/logging.js';

/** Runs one command from the coordinator and answers its result; never throws. */
export type CommandDispatcher = (command: Command, signal: AbortSignal) => Promise<CommandResult>;

type UnaryHandler = (request: unknown, context: CallContext) => Promise<unknown>;

export const commandFailure = (requestId: string, code: Status, reason: string, message: string): CommandResult => ({
  requestId,
  code,
  reason,
  message,
  response: Buffer.alloc(0),
});

/** Why a command's signal aborted, if it did: its deadline passed, or the link closed. */
export type CommandAbort = 'deadline' | 'link' | undefined;

/**
 * Maps whatever a handler threw to the result the coordinator relays, the way the agent's
 * error middleware maps it for its own clients: GroveError keeps its code and reason, a
 * ServerError its code. Once the command's signal aborted, whatever the handler threw
 * (AbortError, a killed child's error, a TimeoutError) is that abort. Anything else is a bug
 * answered INTERNAL.
 */
export function toCommandFailure(requestId: string, err: unknown, aborted: CommandAbort, log: Logger, method: string): CommandResult {
  if (aborted === 'deadline' && !(err instanceof GroveError)) {
    return commandFailure(requestId, Status.DEADLINE_EXCEEDED, 'DEADLINE_EXCEEDED', `${method} ran past its deadline`);
  }
  if (!(err instanceof GroveError) && (aborted === 'link' || isAbortError(err))) {
    return commandFailure(requestId, Status.CANCELLED, 'LINK_CLOSED', `${method} was cancelled: the link closed`);
  }
  const failure = toWireFailure(err, log, method);
  return commandFailure(requestId, failure.code, failure.reason, failure.message);
}

/**
 * Commands reach the same handlers as the agent's own gRPC clients, so a routed call and a
 * direct one behave alike. Only unary methods can travel as one command and one result.
 */
export function createCommandDispatcher(impl: AgentServiceImplementation, log: Logger): CommandDispatcher {
  const handlers = impl as unknown as Record<string, UnaryHandler>;
  return async function dispatch(command, signal) {
    const { requestId } = command;
    const method = agentMethod(command.method);
    if (!method) {
      return commandFailure(requestId, Status.UNIMPLEMENTED, 'UNKNOWN_METHOD', `AgentService has no method "${command.method}"`);
    }
    const { key } = method;
    if (!method.unary) {
      return commandFailure(requestId, Status.UNIMPLEMENTED, 'STREAMING_NOT_ROUTABLE', `${method.name} streams; call the agent directly`);
    }
    // Relative to arrival: the coordinator's clock is not this machine's.
    const remainingMs = command.timeoutMs > 0 ? command.timeoutMs : undefined;
    let request: unknown;
    try {
      request = method.requestType.decode(command.request);
    } catch (err) {
      return commandFailure(
        requestId,
        Status.INVALID_ARGUMENT,
        'BAD_COMMAND_REQUEST',
        `request is not an encoded ${method.name} request: ${(err as Error).message}`,
      );
    }
    const timeout = remainingMs === undefined ? undefined : AbortSignal.timeout(remainingMs);
    const context: CallContext = {
      metadata: Metadata(),
      peer: 'coordinator-link',
      header: Metadata(),
      trailer: Metadata(),
      sendHeader() {},
      signal: timeout ? AbortSignal.any([signal, timeout]) : signal,
    };
    try {
      guardRequest(request);
      const response = await handlers[key]!(request, context);
      const encoded = method.responseType.encode(method.responseType.fromPartial(response)).finish();
      return { requestId, code: Status.OK, reason: '', message: '', response: Buffer.from(encoded) };
    } catch (err) {
      const aborted: CommandAbort = timeout?.aborted ? 'deadline' : signal.aborted ? 'link' : undefined;
      return toCommandFailure(requestId, err, aborted, log, method.name);
    }
  };
}
