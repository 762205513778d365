import { isAbortError } from 'abort-controller-x';
import type { CallContext } from 'nice-grpc-common';
import type { Snapshot } from '../../../gen/grove/agent/v1/resources.js';
import type { ConnectRequest, Hello, LinkServiceImplementation, Proof } from '../../../gen/grove/link/v1/link.js';
import { SnapshotAssembler } from '../../common/snapshot-chunks.js';
import { alreadyExists, deadlineExceeded, failedPrecondition, invalidArgument, unauthenticated, unavailable } from '../../common/errors.js';
import { linkProof, newNonce, NONCE_BYTES, proofMatches } from '../../common/link-proof.js';
import type { Logger } from '../../common/logging.js';
import type { AgentRegistry } from '../agents/agent-registry.js';
import type { Projection } from '../projection/projection.js';
import type { LinkHub } from './link-hub.js';
import { LinkSession } from './link-session.js';
import type { TunnelBroker } from './tunnel-broker.js';
import { planResume, type ResumePlan } from './resume-plan.js';

export interface LinkServiceDeps {
  hub: LinkHub;
  tunnels: TunnelBroker;
  registry: AgentRegistry;
  projection: Projection;
  /** Asked of every agent in Welcome. */
  heartbeatMs: number;
  /** A link silent this long is ended, so a dead peer cannot hold it open. */
  graceMs: number;
  /** Aborted when the coordinator shuts down: every link ends at once. */
  shutdown: AbortSignal;
  /** The agent linked or unlinked: watchers hear of it. */
  onAgentChanged: (agentId: string) => void;
  /** Called once per accepted link with how it joins (counted in the metrics). */
  onLinkJoined?: ((how: string) => void) | undefined;
  /** The shared secret agents must prove they hold (in-stream: see link.proto); none on loopback setups. */
  token?: string | undefined;
  log: Logger;
}

// An agent that opens a stream and says nothing holds a slot for nothing.
const HELLO_TIMEOUT_MS = 10_000;

/**
 * The coordinator's end of the link: Hello → Welcome, then the agent's snapshot, events and
 * heartbeats fold into the projection while commands flow the other way. The stream ends
 * when the agent goes, when it breaks the protocol, when it falls silent past the grace
 * period, when a newer link from the same agent replaces it, or on shutdown.
 */
export function createLinkServiceImpl(deps: LinkServiceDeps): LinkServiceImplementation {
  const { hub, registry, projection, log } = deps;
  return {
    tunnel: (requests, context) => deps.tunnels.accept(requests, context),
    async *connect(requests: AsyncIterable<ConnectRequest>, context: CallContext) {
      const incoming = requests[Symbol.asyncIterator]();
      const hello = await readHello(incoming);
      const agentId = hello.agentId;
      if (deps.token) {
        // Prove the token first, then ask the agent to: neither side ever sends it.
        if (hello.agentNonce.length !== NONCE_BYTES) {
          throw unauthenticated('TOKEN_REQUIRED', 'this coordinator requires the shared token: start the agent with --token-file');
        }
        const coordinatorNonce = newNonce();
        yield {
          message: {
            $case: 'challenge',
            value: { coordinatorNonce, coordinatorProof: linkProof(deps.token, 'coordinator', hello.agentNonce, coordinatorNonce) },
          },
        };
        const proof = await readProof(incoming);
        if (!proofMatches(linkProof(deps.token, 'agent', hello.agentNonce, coordinatorNonce), proof.agentProof)) {
          log.warn(
            { agent: agentId, name: hello.name, peer: context.peer, reason: 'BAD_TOKEN' },
            'link refused: the agent could not prove it holds the token',
          );
          throw unauthenticated('BAD_TOKEN', 'the agent could not prove it holds the shared token');
        }
      }
      // Two live processes with one agent id (a copied data dir) would replace each other's
      // link and mix their state: the second is refused while the first is linked and heard.
      const current = hub.get(agentId);
      const record = registry.get(agentId);
      if (
        current &&
        !current.closed &&
        current.instanceId !== hello.instanceId &&
        record &&
        Date.now() - record.lastSeen.getTime() <= deps.graceMs
      ) {
        log.error({ agent: agentId, name: hello.name, peer: context.peer }, 'refused a second agent process with the same id');
        throw alreadyExists(
          'AGENT_ID_IN_USE',
          `agent id ${agentId} is already linked from another process ("${record.name}"); give each agent its own --data-dir`,
        );
      }
      const openedAt = new Date();
      await registry.connected(hello, openedAt);
      const session = new LinkSession(agentId, openedAt, hello.instanceId);
      hub.attach(session)?.close('replaced by a newer link from the same agent');
      deps.onAgentChanged(agentId);
      const plan = planResume(projection.state(agentId), hello);
      registry.joined(agentId, plan.why);
      deps.onLinkJoined?.(plan.why);
      // Until its snapshot arrives the old projection is served as is, but nothing may be
      // applied on top of it, and a link that drops before the snapshot must ask again.
      if (plan.wantSnapshot) projection.invalidate(agentId);
      session.send({
        message: {
          $case: 'welcome',
          value: {
            resumeAfterRevision: plan.resumeAfterRevision,
            wantSnapshot: plan.wantSnapshot,
            heartbeatIntervalMs: deps.heartbeatMs,
          },
        },
      });
      log.info(
        {
          agent: agentId,
          name: hello.name,
          peer: context.peer,
          revision: hello.revision,
          resume: plan.why,
          resumeAfter: plan.resumeAfterRevision,
        },
        'agent linked',
      );

      let lastHeard = Date.now();
      const watchdog = setInterval(
        () => {
          if (Date.now() - lastHeard <= deps.graceMs) return;
          log.warn({ agent: agentId, silentMs: Date.now() - lastHeard }, 'agent link silent past the grace period; ending it');
          const silent = unavailable('AGENT_SILENT', `no message from agent ${agentId} within ${deps.graceMs} ms`);
          session.close('silent past the grace period', silent);
        },
        Math.max(50, Math.min(1000, deps.graceMs / 4)),
      );
      const onShutdown = () => session.close('coordinator shutting down');
      deps.shutdown.addEventListener('abort', onShutdown, { once: true });
      if (deps.shutdown.aborted) onShutdown();

      const heard = () => {
        lastHeard = Date.now();
        registry.heard(agentId, new Date(lastHeard));
      };
      readLink(incoming, session, plan, deps, heard).then(
        () => session.close('agent ended the link'),
        (err: unknown) => {
          if (isAbortError(err) || session.closed) {
            session.close('link cancelled');
            return;
          }
          log.warn({ agent: agentId, err }, 'agent link broke the protocol; ending it');
          session.close('protocol error', err);
        },
      );

      try {
        yield* session.outbox.drain(context.signal);
      } finally {
        clearInterval(watchdog);
        deps.shutdown.removeEventListener('abort', onShutdown);
        session.close('link closed');
        if (hub.detach(session)) {
          await registry.disconnected(agentId, new Date(), session.closedBecause ?? 'link closed');
          deps.onAgentChanged(agentId);
          log.info({ agent: agentId, name: hello.name }, 'agent unlinked');
        }
      }
    },
  };
}

/** The next message of the link; a peer that stays silent is cut off. */
async function readNext(incoming: AsyncIterator<ConnectRequest>, what: 'hello' | 'proof'): Promise<ConnectRequest['message']> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(deadlineExceeded(what === 'hello' ? 'HELLO_TIMEOUT' : 'PROOF_TIMEOUT', `no ${what} within ${HELLO_TIMEOUT_MS} ms`)),
      HELLO_TIMEOUT_MS,
    );
  });
  try {
    const next = await Promise.race([incoming.next(), timeout]);
    return next.done ? undefined : next.value.message;
  } finally {
    clearTimeout(timer);
  }
}

async function readHello(incoming: AsyncIterator<ConnectRequest>): Promise<Hello> {
  const message = await readNext(incoming, 'hello');
  if (message?.$case !== 'hello') throw failedPrecondition('HELLO_REQUIRED', 'the first message on a link must be Hello');
  if (!message.value.agentId) throw invalidArgument('AGENT_ID_REQUIRED', 'Hello must carry the agent id');
  return message.value;
}

async function readProof(incoming: AsyncIterator<ConnectRequest>): Promise<Proof> {
  const message = await readNext(incoming, 'proof');
  if (message?.$case !== 'proof') throw failedPrecondition('PROOF_REQUIRED', 'after a challenge the agent must send its proof');
  return message.value;
}

/** Folds what the agent sends into the projection until the agent ends its side. */
async function readLink(
  incoming: AsyncIterator<ConnectRequest>,
  session: LinkSession,
  plan: ResumePlan,
  deps: LinkServiceDeps,
  heard: () => void,
): Promise<void> {
  const { agentId } = session;
  let awaitingSnapshot = plan.wantSnapshot;
  const chunks = new SnapshotAssembler();
  const replaceWith = (snapshot: Snapshot) => {
    deps.projection.replace(agentId, snapshot);
    awaitingSnapshot = false;
    deps.log.info({ agent: agentId, revision: snapshot.revision }, 'agent projection rebuilt from a snapshot');
  };
  for (;;) {
    const next = await incoming.next();
    // A replaced or timed-out link's late messages must not move last-seen or the projection.
    if (next.done || session.closed) return;
    heard();
    const message = next.value.message;
    switch (message?.$case) {
      case 'snapshot': // from an agent that does not chunk yet
        replaceWith(message.value);
        break;
      case 'snapshotChunk': {
        let whole: Snapshot | undefined;
        try {
          whole = chunks.add(message.value);
        } catch (err) {
          throw failedPrecondition('SNAPSHOT_CHUNK_ORDER', (err as Error).message);
        }
        if (whole) replaceWith(whole);
        break;
      }
      case 'event': {
        if (awaitingSnapshot || chunks.inProgress) {
          throw failedPrecondition('SNAPSHOT_EXPECTED', 'the coordinator asked for a snapshot before events');
        }
        const event = message.value;
        if (deps.projection.apply(agentId, event) === 'gap') {
          deps.projection.invalidate(agentId);
          throw failedPrecondition(
            'REVISION_GAP',
            `event ${event.revision} does not follow revision ` +
              `${deps.projection.of(agentId)?.appliedRevision ?? 0}; relink for a snapshot`,
          );
        }
        break;
      }
      case 'commandResult':
        if (!session.resolve(message.value)) {
          deps.log.debug({ agent: agentId, requestId: message.value.requestId }, 'result for a command nobody waits for');
        }
        break;
      case 'hello':
        throw failedPrecondition('HELLO_REPEATED', 'Hello is sent once, first');
      case 'proof':
        throw failedPrecondition('PROOF_UNEXPECTED', 'a proof is sent once, right after the challenge');
      case 'heartbeat':
        deps.registry.freeDisk(agentId, message.value.freeDiskBytes);
        break;
      default:
        // Heartbeats only prove liveness; unknown messages are from a newer agent: ignored.
        break;
    }
  }
}
