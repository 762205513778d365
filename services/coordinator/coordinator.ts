import { setMaxListeners } from 'node:events';
import { join, resolve } from 'node:path';
import { CoordinatorServiceDefinition } from '../../gen/grove/coordinator/v1/coordinator_service.js';
import { LinkServiceDefinition } from '../../gen/grove/link/v1/link.js';
import { startGrpcServer, type TlsFiles } from '../common/grpc-server.js';
import type { Logger } from '../common/logging.js';
import { AgentRegistry, type AgentRecord } from './agents/agent-registry.js';
import { DEFAULT_STATUS_POLICY, deriveAgentStatus, type AgentStatusName, type StatusPolicy } from './agents/agent-status.js';
import { StatusTracker } from './agents/status-tracker.js';
import { LinkHub } from './link/link-hub.js';
import { createLinkServiceImpl } from './link/link-service.js';
import { TunnelBroker } from './link/tunnel-broker.js';
import { ChangeLog, DEFAULT_CHANGE_CAPACITY, DEFAULT_WATCH_BUFFER } from './projection/change-log.js';
import { Projection } from './projection/projection.js';
import { createCoordinatorServiceImpl } from './rpc/coordinator-service.js';
import { routeCandidates } from './rpc/route-handler.js';
import { GroupService } from './groups/group-service.js';
import { ServedCoordinatorServiceDefinition } from './rpc/served-definition.js';
import { toAgentProto, toEventView } from './rpc/views.js';
import { CommandAudit } from './store/command-audit.js';
import { nextGeneration, revisionBase } from './store/generation.js';
import { initOrm } from './store/orm.js';
import { redactedUrl } from './store/postgres-orm.js';
import { startHoldingDataDir } from '../common/data-dir-lock.js';
import { startWebServer } from './web/web-server.js';
import { writeFileAtomically } from '../common/ready.js';
import { COORDINATOR_METRICS_PREFIX, CoordinatorMetrics } from './coordinator-metrics.js';
import { DEFAULT_RETENTION, startCompaction, type CoordinatorRetention } from './store/retention.js';
import { agentUnknownNotification, notificationsFor } from './webhooks/notifications.js';
import { WebhookOutbox, type WebhookSettings } from './webhooks/webhook-outbox.js';

export interface CoordinatorOptions {
  listen: string;
  dataDir: string;
  /** A postgresql:// URL: the records live there (shared by replicas) instead of SQLite in `dataDir`. */
  dbUrl?: string | undefined;
  /** Bearer token required from agents' links and from clients. */
  token?: string | undefined;
  tls?: TlsFiles | undefined;
  /** A link silent longer than this stops counting as connected (default 6s). */
  agentGraceMs?: number | undefined;
  /** An agent silent longer than this is unknown (default 30s). */
  agentTtlMs?: number | undefined;
  /** Heartbeat interval asked of agents (default 2s). */
  heartbeatMs?: number | undefined;
  /** Live changes a watcher may have waiting before it is cut off (default 1000). */
  watchBuffer?: number | undefined;
  /** Changes kept for watchers to resume from (default 10 000). */
  watchHistory?: number | undefined;
  /** How long a routed call waits for its agent when the client does not say (default 30s). */
  routeTimeoutMs?: number | undefined;
  /** HOST:PORT of the HTTP face (`/metrics`); none when unset. Its bound address goes to `<dataDir>/http-address`. */
  http?: string | undefined;
  /** Webhook receivers and what they are told (`--webhook`, `--webhook-events`, `--webhook-secret-file`). */
  webhooks?: WebhookSettings | undefined;
  /** Bounds on the command audit (`--audit-retention`, `--audit-max-age`). */
  retention?: Partial<CoordinatorRetention> | undefined;
  log: Logger;
}

export interface RunningCoordinator {
  address: string;
  /** Where the page, its API and `/metrics` are served, when `http` was given. */
  httpAddress: string | undefined;
  /** `http://HOST:PORT/` (https with TLS) of the page, when `http` was given. */
  httpUrl: string | undefined;
  /** Open links; `links.sendCommand(...)` runs an AgentService method on a linked agent. */
  links: LinkHub;
  registry: AgentRegistry;
  projection: Projection;
  close(): Promise<void>;
}

export const DEFAULT_HEARTBEAT_MS = 2000;

/** Opens the database, loads the registry, then serves links and clients. */
export async function startCoordinator(options: CoordinatorOptions): Promise<RunningCoordinator> {
  const dataDir = resolve(options.dataDir);
  return startHoldingDataDir(dataDir, 'coordinator', () => startLocked(options, dataDir));
}

async function startLocked(options: CoordinatorOptions, dataDir: string): Promise<RunningCoordinator> {
  const log = options.log.child({ component: 'coordinator' });
  const policy: StatusPolicy = {
    graceMs: options.agentGraceMs ?? DEFAULT_STATUS_POLICY.graceMs,
    ttlMs: options.agentTtlMs ?? DEFAULT_STATUS_POLICY.ttlMs,
  };
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const watchHistory = options.watchHistory ?? DEFAULT_CHANGE_CAPACITY;
  const watchBuffer = options.watchBuffer ?? Math.min(DEFAULT_WATCH_BUFFER, watchHistory);
  if (!Number.isInteger(watchBuffer) || watchBuffer < 1 || watchBuffer > watchHistory) {
    // Waiting changes live in the shared ring: a buffer larger than it could not be honoured.
    throw new Error(`--watch-buffer must be between 1 and the watch history (${watchHistory})`);
  }
  if (policy.ttlMs < policy.graceMs) throw new Error('--agent-ttl must not be shorter than --agent-grace');
  if (heartbeatMs >= policy.graceMs) {
    // Heartbeats slower than the grace period would flap every idle agent to DISCONNECTED.
    throw new Error('--heartbeat must be shorter than --agent-grace');
  }
  const orm = await initOrm(dataDir, options.log.child({ component: 'store' }), options.dbUrl);
  const registry = await AgentRegistry.load(orm, options.log.child({ component: 'registry' }));
  const generation = await nextGeneration(orm);
  const links = new LinkHub(new CommandAudit(orm, options.log.child({ component: 'audit' })), options.log.child({ component: 'commands' }));
  const tunnels = new TunnelBroker(links, options.log.child({ component: 'tunnels' }));
  const statusOf = (record: AgentRecord): AgentStatusName =>
    deriveAgentStatus({ linkOpen: links.isOpen(record.id), lastSeen: record.lastSeen }, Date.now(), policy);
  const projection = new Projection(new ChangeLog(revisionBase(generation), watchHistory), (agentId, event) => {
    const record = registry.get(agentId);
    return record ? toEventView(event, record, statusOf(record)) : event;
  });
  const shutdown = new AbortController();
  // Every link and watch listens for shutdown: hundreds of listeners are expected.
  setMaxListeners(0, shutdown.signal);

  const webhooks = new WebhookOutbox(
    orm,
    options.webhooks ?? { urls: [], types: new Set(), secret: undefined },
    (agentId) => ({ id: agentId, name: registry.get(agentId)?.name ?? '' }),
    options.log.child({ component: 'webhooks' }),
  );
  projection.observe((agentId, event) => notificationsFor(agentId, event).forEach((n) => webhooks.record(n)));
  const retention = {
    auditRows: options.retention?.auditRows ?? DEFAULT_RETENTION.auditRows,
    auditMaxAgeMs: options.retention?.auditMaxAgeMs ?? DEFAULT_RETENTION.auditMaxAgeMs,
  };
  const stopCompaction = await startCompaction(orm, retention, options.log.child({ component: 'retention' }));

  const statuses = new StatusTracker();
  for (const record of registry.list()) statuses.seed(record.id, statusOf(record));
  /** Tells watchers about the agent; `force` for a link or unlink, which always is news. */
  const announce = (agentId: string, force: boolean) => {
    const record = registry.get(agentId);
    if (!record) return;
    const transition = statuses.update(agentId, statusOf(record), force);
    if (!transition) return;
    const load = {
      appliedRevision: projection.of(agentId)?.appliedRevision ?? 0,
      runningTasks: projection.index.runningTasks(agentId),
      queuedTasks: projection.index.queuedTasks(agentId),
    };
    projection.agentChanged(toAgentProto(record, transition.status, load));
    if (transition.status === 'unknown' && transition.previous !== undefined && transition.previous !== 'unknown') {
      webhooks.record(agentUnknownNotification(record, record.lastSeen));
    }
    if (transition.sessionsChanged) {
      projection.reshowSessions(agentId, transition.status === 'connected' ? 'session.agent_back' : 'session.agent_unknown');
    }
  };
  const onAgentChanged = (agentId: string) => announce(agentId, true);
  // Status moves with time alone (grace, TTL): sweep often enough to announce it promptly.
  const sweep = setInterval(
    () => {
      for (const record of registry.list()) announce(record.id, false);
    },
    Math.max(50, Math.min(1000, policy.graceMs / 4)),
  );
  sweep.unref();
  const metrics = new CoordinatorMetrics({ registry, statusOf, projection });
  const groups = new GroupService({
    orm,
    hub: links,
    registry,
    projection,
    candidates: routeCandidates({ registry, hub: links, projection, policy }),
    isConnected: (agentId) => {
      const record = registry.get(agentId);
      return record !== undefined && statusOf(record) === 'connected';
    },
    log: options.log.child({ component: 'groups' }),
  });
  const server = await startGrpcServer({
    listen: options.listen,
    log,
    token: options.token,
    tls: options.tls,
    // Calls are timed only when someone can read the result: no middleware otherwise.
    metrics: options.http ? { registry: metrics.registry, prefix: COORDINATOR_METRICS_PREFIX } : undefined,
    serviceNames: [CoordinatorServiceDefinition.fullName, LinkServiceDefinition.fullName],
    register: (s) => {
      s.add(
        ServedCoordinatorServiceDefinition,
        createCoordinatorServiceImpl({
          registry,
          hub: links,
          tunnels,
          projection,
          policy,
          watchBuffer,
          routeTimeoutMs: options.routeTimeoutMs,
          onWatchCut: () => metrics.watchCutOff(),
          groups,
          shutdown: shutdown.signal,
          log: options.log.child({ component: 'api' }),
        }),
      );
      s.add(
        LinkServiceDefinition,
        createLinkServiceImpl({
          hub: links,
          tunnels,
          registry,
          projection,
          heartbeatMs,
          graceMs: policy.graceMs,
          shutdown: shutdown.signal,
          onAgentChanged,
          onLinkJoined: (how) => metrics.linkJoined(how),
          token: options.token,
          log: options.log.child({ component: 'link' }),
        }),
      );
    },
  });
  const http = options.http
    ? await startWebServer({
        listen: options.http,
        grpcAddress: server.address,
        token: options.token,
        tls: options.tls,
        metrics: () => metrics.registry.metrics(),
        shutdown: shutdown.signal,
        log: options.log.child({ component: 'web' }),
      }).catch(async (err: unknown) => {
        // Nothing of a coordinator that did not start may keep the process alive.
        clearInterval(sweep);
        shutdown.abort();
        await webhooks.close();
        await stopCompaction();
        await server.close();
        await registry.close();
        await orm.close();
        throw err;
      })
    : undefined;
  if (http) writeFileAtomically(join(dataDir, 'http-address'), `${http.address}\n`);
  webhooks.start();
  log.info(
    {
      address: server.address,
      http: http?.address,
      dataDir,
      db: options.dbUrl ? redactedUrl(options.dbUrl) : 'sqlite',
      generation,
      heartbeatMs,
      watchBuffer,
      ...policy,
    },
    'coordinator serving',
  );
  return {
    address: server.address,
    httpAddress: http?.address,
    httpUrl: http?.url,
    links,
    registry,
    projection,
    async close() {
      // Links first: they would otherwise hold the server's graceful shutdown open.
      clearInterval(sweep);
      shutdown.abort();
      await webhooks.close();
      await stopCompaction();
      await http?.close();
      links.closeAll('coordinator shutting down');
      await server.close();
      await registry.close();
      await orm.close();
      log.info('coordinator stopped');
    },
  };
}
