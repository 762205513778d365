import { Metadata, Status, type CallContext } from 'nice-grpc-common';
import {
  AttachTaskRequest,
  AttachTaskResponse,
  FollowTaskLogRequest,
  FollowTaskLogResponse,
  type AgentServiceImplementation,
} from '../../../gen/grove/agent/v1/agent_service.js';
import type { LinkServiceClient, OpenTunnel, TunnelRequest } from '../../../gen/grove/link/v1/link.js';
import { AsyncQueue } from '../../common/async-queue.js';
import { toWireFailure } from '../../common/error-mapping.js';
import type { Logger } from '../../common/logging.js';

// Responses queued ahead of the tunnel call: its HTTP/2 flow control is the real buffer.
const OUTBOX = 16;

/** Opens a tunnel for an agent stream whose client is connected through the coordinator. */
export type TunnelDispatcher = (client: LinkServiceClient, open: OpenTunnel, signal: AbortSignal) => Promise<void>;

/**
 * The agent's end of a tunnel: a Tunnel call on the link's channel (its own HTTP/2 stream)
 * running one AgentService stream through the same handler a direct client reaches, and
 * ending with the status that client would get.
 */
export function createTunnelDispatcher(impl: AgentServiceImplementation, agentId: string, log: Logger): TunnelDispatcher {
  return async function dispatch(client, open, signal) {
    const out = new AsyncQueue<TunnelRequest>();
    const done = new AbortController();
    const stop = AbortSignal.any([signal, done.signal]);
    out.push({ message: { $case: 'hello', value: { agentId, tunnelId: open.tunnelId } } });
    const call = client.tunnel(out.drain(), { signal: stop })[Symbol.asyncIterator]();
    // Requests from the client, as the handler reads them.
    async function* requests(): AsyncGenerator<Uint8Array> {
      for (;;) {
        const next = await call.next();
        if (next.done) return;
        yield next.value.request;
      }
    }
    const context: CallContext = {
      metadata: Metadata(),
      peer: 'coordinator-tunnel',
      header: Metadata(),
      trailer: Metadata(),
      sendHeader() {},
      signal: stop,
    };
    const send = async (bytes: Uint8Array) => {
      out.push({ message: { $case: 'response', value: Buffer.from(bytes) } });
      await out.waitForSpace(OUTBOX, stop);
    };
    try {
      if (open.method === 'AttachTask') {
        const decoded = (async function* () {
          for await (const bytes of requests()) yield AttachTaskRequest.decode(bytes);
        })();
        for await (const response of impl.attachTask(decoded, context)) {
          await send(AttachTaskResponse.encode(AttachTaskResponse.fromPartial(response)).finish());
        }
      } else if (open.method === 'FollowTaskLog') {
        const first = await requests().next();
        if (first.done) return;
        for await (const response of impl.followTaskLog(FollowTaskLogRequest.decode(first.value), context)) {
          await send(FollowTaskLogResponse.encode(FollowTaskLogResponse.fromPartial(response)).finish());
        }
      } else {
        out.push({
          message: {
            $case: 'end',
            value: { code: Status.UNIMPLEMENTED, reason: 'UNKNOWN_METHOD', message: `no tunnel for ${open.method}` },
          },
        });
        return;
      }
      out.push({ message: { $case: 'end', value: { code: Status.OK, reason: '', message: '' } } });
    } catch (err) {
      if (!stop.aborted) {
        const failure = toWireFailure(err, log, open.method);
        out.push({ message: { $case: 'end', value: { code: failure.code, reason: failure.reason, message: failure.message } } });
      }
    } finally {
      out.end();
      // The coordinator ends the call once it has our end; a client that left ends it sooner.
      try {
        while (!(await call.next()).done);
      } catch {
        // cancelled or the link dropped: nothing more to say
      }
      done.abort();
    }
  };
}
