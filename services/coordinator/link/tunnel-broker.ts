import { randomBytes } from 'node:crypto';
import { Status, type CallContext } from 'nice-grpc-common';
import type { TunnelRequest, TunnelResponse } from '../../../gen/grove/link/v1/link.js';
import { AsyncQueue } from '../../common/async-queue.js';
import { GroveError, permissionDenied, unavailable } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import type { GroveReason } from '../../../wire/reasons.js';
import type { LinkHub } from './link-hub.js';

// How long an agent has to open the tunnel it was asked for.
const OPEN_TIMEOUT_MS = 10_000;
// Messages from the agent read ahead of the client: the rest waits in HTTP/2 flow control.
const READ_AHEAD = 16;

/** The coordinator's ends of one tunnel: what the agent sends, and a way to send to it. */
export interface TunnelEnds {
  /** Encoded response messages from the agent; ends (or throws its error) with the agent's side. */
  responses: AsyncGenerator<Uint8Array>;
  /** Queues an encoded request message for the agent. */
  send(request: Uint8Array): void;
  /** The client is gone: ends the tunnel call, and so the agent's side. */
  close(): void;
}

interface Waiting {
  agentId: string;
  resolve(ends: TunnelEnds): void;
  reject(err: unknown): void;
}

/**
 * Routed streams ride tunnels: the coordinator asks an agent over its link (OpenTunnel) to
 * open a Tunnel call with a fresh one-time id, and pairs that call with the client's. Each
 * tunnel is its own HTTP/2 stream, so a busy terminal is held back by its own flow control
 * and never by (or ahead of) the link's events and heartbeats.
 */
export class TunnelBroker {
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly hub: LinkHub,
    private readonly log: Logger,
  ) {}

  /** Asks `agentId` for a tunnel carrying `method`; resolves once the agent's call arrives. */
  open(agentId: string, method: string, signal: AbortSignal): Promise<TunnelEnds> {
    const session = this.hub.get(agentId);
    if (!session || session.closed) return Promise.reject(unavailable('AGENT_NOT_CONNECTED', `agent ${agentId} has no open link`));
    const tunnelId = randomBytes(32).toString('hex');
    return new Promise<TunnelEnds>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(tunnelId);
        reject(unavailable('TUNNEL_UNAVAILABLE', `agent ${agentId} did not open the tunnel within ${OPEN_TIMEOUT_MS} ms`));
      }, OPEN_TIMEOUT_MS);
      const settle = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiting.delete(tunnelId);
      };
      const onAbort = () => {
        settle();
        reject(new GroveError(Status.CANCELLED, 'TUNNEL_UNAVAILABLE', 'the client went away'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(tunnelId, {
        agentId,
        resolve: (ends) => {
          settle();
          resolve(ends);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      });
      session.send({ message: { $case: 'openTunnel', value: { tunnelId, method } } });
    });
  }

  /** LinkService.Tunnel: the agent's side of a tunnel it was asked for. */
  async *accept(requests: AsyncIterable<TunnelRequest>, context: CallContext): AsyncGenerator<TunnelResponse> {
    const incoming = requests[Symbol.asyncIterator]();
    const first = await incoming.next();
    const hello = first.done ? undefined : first.value.message;
    if (hello?.$case !== 'hello') throw permissionDenied('TUNNEL_UNAVAILABLE', 'a tunnel starts with its hello');
    const waiting = this.waiting.get(hello.value.tunnelId);
    // The id is a one-time secret that only the linked agent was told: without it, nothing.
    if (!waiting || waiting.agentId !== hello.value.agentId) {
      throw permissionDenied('TUNNEL_UNAVAILABLE', 'no tunnel was asked for with this id');
    }
    const toAgent = new AsyncQueue<TunnelResponse>();
    const closed = new AbortController();
    const fromAgent = new AsyncQueue<Uint8Array>();
    const pump = async () => {
      for (;;) {
        await fromAgent.waitForSpace(READ_AHEAD, context.signal);
        const next = await incoming.next();
        if (next.done) return fromAgent.end(unavailable('LINK_CLOSED', 'the agent ended the tunnel without a status'));
        const message = next.value.message;
        if (message?.$case === 'response') fromAgent.push(message.value);
        else if (message?.$case === 'end') {
          const { code, message: text, reason } = message.value;
          return fromAgent.end(code === Status.OK ? undefined : new GroveError(code, reason as GroveReason, text));
        }
      }
    };
    const pumped = pump().catch((err: unknown) => {
      this.log.debug({ err, agent: waiting.agentId }, 'tunnel from the agent broke');
      fromAgent.end(unavailable('LINK_CLOSED', `the tunnel from agent ${waiting.agentId} broke; attach again`));
    });
    waiting.resolve({
      responses: fromAgent.drain(),
      send: (request) => toAgent.push({ request: Buffer.from(request) }),
      close: () => closed.abort(),
    });
    const done = AbortSignal.any([context.signal, closed.signal]);
    try {
      yield* toAgent.drain(done);
      // Until the agent's side has ended, or the client has gone.
      await Promise.race([pumped, new Promise((resolve) => done.addEventListener('abort', resolve, { once: true }))]);
    } finally {
      toAgent.end();
    }
  }
}
