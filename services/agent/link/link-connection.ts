import { randomUUID } from 'node:crypto';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { createChannel, createClient, Status } from 'nice-grpc';
import { linkProof, newNonce, NONCE_BYTES, proofMatches } from '../../common/link-proof.js';
import { MESSAGE_LIMITS } from '../../common/grpc-server.js';

// Keepalive pings notice a link that went silent (a NAT dropping its mapping) so the agent
// redials instead of waiting for TCP to give up; snapshots can be large.
/** This process, as opposed to another one started from a copy of the same data dir. */
const INSTANCE_ID = randomUUID();

const LINK_CHANNEL_OPTIONS = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  ...MESSAGE_LIMITS,
};
import { LinkServiceDefinition, type ConnectRequest, type Welcome } from '../../../gen/grove/link/v1/link.js';
import { AsyncQueue } from '../../common/async-queue.js';
import { freeBytesOrZero } from '../procs/disk-space.js';
import { chunkSnapshot } from '../../common/snapshot-chunks.js';
import { GroveError } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import type { AgentContext } from '../agent-context.js';
import type { CommandDispatcher } from './command-dispatch.js';
import type { TunnelDispatcher } from './tunnel-dispatch.js';

export interface LinkConnectionOptions {
  coordinator: string;
  credentials: ChannelCredentials;
  token?: string | undefined;
  context: AgentContext;
  dispatch: CommandDispatcher;
  tunnel: TunnelDispatcher;
  /** The agent's own ceiling on the heartbeat interval; the coordinator may ask for less. */
  heartbeatMs?: number | undefined;
  log: Logger;
  /** Called once the coordinator has welcomed this connection. */
  onWelcome: (welcome: Welcome) => void;
}

// Events queued ahead of the stream. Small: the gRPC stream's own flow control is the real
// buffer, this only keeps the event log reader from racing ahead of it.
const OUTBOX_LIMIT = 64;
// A coordinator that accepted the stream but never answers Hello is as good as down.
const WELCOME_TIMEOUT_MS = 10_000;
const DEFAULT_HEARTBEAT_MS = 2000;

/** The link broke in a way the protocol forbids; the attempt ends and is retried. */
class LinkProtocolError extends Error {
  override name = 'LinkProtocolError';
}

/** The peer at --coordinator did not prove it holds the shared token (or we lack one). */
export class LinkAuthError extends Error {
  override name = 'LinkAuthError';
}

/**
 * One connection to the coordinator, from Hello until the stream ends: resolves when the
 * coordinator ends it, throws when it fails, and returns promptly once `signal` aborts.
 * Every message sent, whatever its kind, tells the coordinator the agent is alive.
 */
export async function runLinkConnection(options: LinkConnectionOptions, signal: AbortSignal): Promise<void> {
  const { context: ctx, log } = options;
  const attempt = new AbortController();
  const attemptSignal = AbortSignal.any([signal, attempt.signal]);
  // A fresh channel per attempt: grpc-js's own reconnect backoff (up to minutes) must not
  // stack on top of ours after a long coordinator outage.
  const channel = createChannel(options.coordinator, options.credentials, LINK_CHANNEL_OPTIONS);
  const client = createClient(LinkServiceDefinition, channel);
  const outbox = new AsyncQueue<ConnectRequest>();
  const tasks = new Set<Promise<void>>();
  const track = (task: Promise<void>) => {
    tasks.add(task);
    void task.finally(() => tasks.delete(task));
  };
  let failure: unknown;
  const fail = (err: unknown) => {
    failure ??= err;
    attempt.abort();
  };
  let sentRevision = 0;
  let heartbeat: NodeJS.Timeout | undefined;
  const welcomeTimer = setTimeout(
    () => fail(new LinkProtocolError(`no welcome from the coordinator within ${WELCOME_TIMEOUT_MS} ms`)),
    WELCOME_TIMEOUT_MS,
  );

  const agentNonce = newNonce();
  try {
    const { oldest, newest } = await ctx.store.events.bounds();
    outbox.push({
      message: {
        $case: 'hello',
        value: {
          agentId: ctx.identity.id,
          name: ctx.identity.name,
          labels: ctx.identity.labels,
          version: ctx.identity.version,
          maxRunningTasks: ctx.maxRunningTasks,
          freeDiskBytes: freeBytesOrZero(ctx.worktreeRoot),
          revision: newest,
          oldestRevision: oldest,
          instanceId: INSTANCE_ID,
          agentNonce,
        },
      },
    });
    // No bearer token on the link: the token is proven in-stream, never sent (link.proto).
    const responses = client.connect(outbox.drain(attemptSignal), { signal: attemptSignal });
    let welcomed = false;
    let challenged = false;
    for await (const response of responses) {
      const message = response.message;
      if (message?.$case === 'challenge') {
        if (challenged || welcomed) throw new LinkProtocolError('the coordinator sent a challenge out of turn');
        challenged = true;
        if (!options.token) throw new LinkAuthError('the coordinator requires the shared token: start the agent with --token-file');
        const { coordinatorNonce, coordinatorProof } = message.value;
        if (
          coordinatorNonce.length !== NONCE_BYTES ||
          !proofMatches(linkProof(options.token, 'coordinator', agentNonce, coordinatorNonce), coordinatorProof)
        ) {
          throw new LinkAuthError(
            `the peer at ${options.coordinator} could not prove it holds the shared token; not linking (wrong address, or a different token?)`,
          );
        }
        outbox.push({
          message: { $case: 'proof', value: { agentProof: linkProof(options.token, 'agent', agentNonce, coordinatorNonce) } },
        });
      } else if (message?.$case === 'welcome') {
        if (welcomed) throw new LinkProtocolError('the coordinator sent a second welcome');
        if (options.token && !challenged) {
          throw new LinkAuthError(
            `the peer at ${options.coordinator} did not prove it holds the shared token; not linking, and running none of its commands`,
          );
        }
        welcomed = true;
        clearTimeout(welcomeTimer);
        const welcome = message.value;
        options.onWelcome(welcome);
        const intervalMs = heartbeatInterval(welcome.heartbeatIntervalMs, options.heartbeatMs);
        heartbeat = setInterval(() => {
          outbox.push({
            message: {
              $case: 'heartbeat',
              value: { revision: sentRevision, time: new Date(), freeDiskBytes: freeBytesOrZero(ctx.worktreeRoot) },
            },
          });
        }, intervalMs);
        log.info(
          { resumeAfter: welcome.resumeAfterRevision, snapshot: welcome.wantSnapshot, heartbeatMs: intervalMs },
          'coordinator link established',
        );
        const sent = (revision: number) => void (sentRevision = revision);
        track(streamChanges(ctx, outbox, welcome, attemptSignal, sent, log).catch(fail));
      } else if (message?.$case === 'openTunnel') {
        if (!welcomed) throw new LinkProtocolError('the coordinator asked for a tunnel before its welcome');
        track(options.tunnel(client, message.value, attemptSignal).catch((err: unknown) => log.warn({ err }, 'tunnel failed')));
      } else if (message?.$case === 'command') {
        if (!welcomed) throw new LinkProtocolError('the coordinator sent a command before its welcome');
        const command = message.value;
        log.debug({ requestId: command.requestId, method: command.method }, 'command received');
        track(
          options.dispatch(command, attemptSignal).then((result) => {
            outbox.push({ message: { $case: 'commandResult', value: result } });
          }),
        );
      }
    }
  } catch (err) {
    if (failure !== undefined) throw failure;
    throw err;
  } finally {
    clearTimeout(welcomeTimer);
    clearInterval(heartbeat);
    attempt.abort();
    outbox.end();
    await Promise.allSettled([...tasks]);
    channel.close();
  }
  if (failure !== undefined) throw failure;
}

/** The coordinator says how often it needs to hear from us; our own setting can only tighten it. */
export function heartbeatInterval(requestedMs: number, ownMs: number | undefined): number {
  const requested = requestedMs > 0 ? requestedMs : DEFAULT_HEARTBEAT_MS;
  return ownMs !== undefined && ownMs > 0 ? Math.min(requested, ownMs) : requested;
}

/**
 * Sends what the coordinator is missing, then live events. When the events it asks for are
 * compacted (or the log is behind it), a snapshot replaces its projection wholesale and the
 * stream continues from the snapshot's revision. The same holds if compaction overtakes a
 * slow stream midway.
 */
async function streamChanges(
  ctx: AgentContext,
  outbox: AsyncQueue<ConnectRequest>,
  welcome: Welcome,
  signal: AbortSignal,
  sent: (revision: number) => void,
  log: Logger,
): Promise<void> {
  let after: number | undefined = welcome.wantSnapshot ? undefined : welcome.resumeAfterRevision;
  while (!signal.aborted) {
    if (after === undefined) {
      const snapshot = await ctx.snapshot();
      // In bounded chunks: no message grows with the agent's state (snapshot-chunks.ts).
      for (const chunk of chunkSnapshot(snapshot)) {
        await outbox.waitForSpace(OUTBOX_LIMIT, signal);
        if (signal.aborted) return;
        outbox.push({ message: { $case: 'snapshotChunk', value: chunk } });
      }
      after = snapshot.revision;
      sent(after);
      log.debug({ revision: after }, 'snapshot sent');
    }
    try {
      for await (const event of ctx.store.events.watch(after, signal)) {
        await outbox.waitForSpace(OUTBOX_LIMIT, signal);
        if (signal.aborted) return;
        outbox.push({ message: { $case: 'event', value: event } });
        after = event.revision;
        sent(after);
      }
    } catch (err) {
      if (!(err instanceof GroveError && err.code === Status.OUT_OF_RANGE)) throw err;
      log.info({ after, reason: err.reason }, 'events the coordinator needs are gone; sending a snapshot');
      after = undefined;
    }
  }
}
