import { resolve } from 'node:path';
import { CoordinatorServiceDefinition } from '../../gen/grove/coordinator/v1/coordinator_service.js';
import { LinkServiceDefinition } from '../../gen/grove/link/v1/link.js';
import { startGrpcServer, type TlsFiles } from '../common/grpc-server.js';
import type { Logger } from '../common/logging.js';
import { AgentRegistry } from './agents/agent-registry.js';
import { DEFAULT_STATUS_POLICY, deriveAgentStatus, type StatusPolicy } from './agents/agent-status.js';
import { LinkHub } from './link/link-hub.js';
import { createLinkServiceImpl } from './link/link-service.js';
import { ChangeLog } from './projection/change-log.js';
import { Projection } from './projection/projection.js';
import { createCoordinatorServiceImpl } from './rpc/coordinator-service.js';
import { toAgentProto } from './rpc/views.js';
import { CommandAudit } from './store/command-audit.js';
import { nextGeneration, revisionBase } from './store/generation.js';
import { initOrm } from './store/orm.js';

export interface CoordinatorOptions {
  listen: string;
  dataDir: string;
  /** Bearer token required from agents' links and from clients. */
  token?: string | undefined;
  tls?: TlsFiles | undefined;
  /** A link silent longer than this stops counting as connected (default 6s). */
  agentGraceMs?: number | undefined;
  /** An agent silent longer than this is unknown (default 30s). */
  agentTtlMs?: number | undefined;
  /** Heartbeat interval asked of agents (default 2s). */
  heartbeatMs?: number | undefined;
  log: Logger;
}

export interface RunningCoordinator {
  address: string;
  /** Open links; `links.sendCommand(...)` runs an AgentService method on a linked agent. */
  links: LinkHub;
  registry: AgentRegistry;
  projection: Projection;
  close(): Promise<void>;
}

export const DEFAULT_HEARTBEAT_MS = 2000;

/** Opens the database, loads the registry, then serves links and clients. */
export async function startCoordinator(options: CoordinatorOptions): Promise<RunningCoordinator> {
  const log = options.log.child({ component: 'coordinator' });
  const policy: StatusPolicy = {
    graceMs: options.agentGraceMs ?? DEFAULT_STATUS_POLICY.graceMs,
    ttlMs: options.agentTtlMs ?? DEFAULT_STATUS_POLICY.ttlMs,
  };
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  if (policy.ttlMs < policy.graceMs) throw new Error('--agent-ttl must not be shorter than --agent-grace');
  if (heartbeatMs >= policy.graceMs) {
    // Heartbeats slower than the grace period would flap every idle agent to DISCONNECTED.
    throw new Error('--heartbeat must be shorter than --agent-grace');
  }
  const dataDir = resolve(options.dataDir);
  const orm = await initOrm(dataDir, options.log.child({ component: 'store' }));
  const registry = await AgentRegistry.load(orm, options.log.child({ component: 'registry' }));
  const generation = await nextGeneration(orm);
  const projection = new Projection(new ChangeLog(revisionBase(generation)));
  const links = new LinkHub(
    new CommandAudit(orm, options.log.child({ component: 'audit' })),
    options.log.child({ component: 'commands' }),
  );
  const shutdown = new AbortController();
  const onAgentChanged = (agentId: string) => {
    const record = registry.get(agentId);
    if (!record) return;
    const status = deriveAgentStatus({ linkOpen: links.isOpen(agentId), lastSeen: record.lastSeen }, Date.now(), policy);
    projection.agentChanged(toAgentProto(record, status, projection.of(agentId)));
  };
  const server = await startGrpcServer({
    listen: options.listen,
    log,
    token: options.token,
    tls: options.tls,
    serviceNames: [CoordinatorServiceDefinition.fullName, LinkServiceDefinition.fullName],
    register: (s) => {
      s.add(
        CoordinatorServiceDefinition,
        createCoordinatorServiceImpl({ registry, hub: links, projection, policy, shutdown: shutdown.signal }),
      );
      s.add(
        LinkServiceDefinition,
        createLinkServiceImpl({
          hub: links,
          registry,
          projection,
          heartbeatMs,
          graceMs: policy.graceMs,
          shutdown: shutdown.signal,
          onAgentChanged,
          log: options.log.child({ component: 'link' }),
        }),
      );
    },
  });
  log.info({ address: server.address, dataDir, generation, heartbeatMs, ...policy }, 'coordinator serving');
  return {
    address: server.address,
    links,
    registry,
    projection,
    async close() {
      // Links first: they would otherwise hold the server's graceful shutdown open.
      shutdown.abort();
      links.closeAll('coordinator shutting down');
      await server.close();
      await registry.close();
      await orm.close();
      log.info('coordinator stopped');
    },
  };
}
