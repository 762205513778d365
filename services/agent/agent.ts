import { DEFAULT_JOB_RETENTION, dropOldJobs } from './jobs/job-retention.js';
import { queueSetupTasks } from './tasks/setup-tasks.js';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { mkdirSync, realpathSync } from 'node:fs';
import { AgentServiceDefinition } from '../../gen/grove/agent/v1/agent_service.js';
import { startHttpServer } from '../common/http-server.js';
import { metricsRoute } from '../common/metrics.js';
import { writeFileAtomically } from '../common/ready.js';
import { AGENT_METRICS_PREFIX, createAgentMetrics } from './agent-metrics.js';
import { DiskGuard } from './procs/disk-space.js';
import type { PortPlan } from './domain/port-blocks.js';
import { startGrpcServer, type TlsFiles } from '../common/grpc-server.js';
import { newId } from '../common/ids.js';
import type { ProfileSpec } from './domain/profiles.js';
import type { Logger } from '../common/logging.js';
import { GROVE_VERSION } from '../common/version.js';
import type { AgentContext, AgentIdentity } from './agent-context.js';
import { EventLog } from './store/event-log.js';
import { startLink, type RunningLink } from './link/link-client.js';
import { RepoService } from './repos/repo-service.js';
import { JobQueue } from './jobs/job-queue.js';
import { JobService } from './jobs/job-service.js';
import { LockService } from './procs/lock-service.js';
import { SessionService } from './sessions/session-service.js';
import { startHoldingDataDir } from '../common/data-dir-lock.js';
import { StartupError } from '../common/startup-error.js';
import { groveWorktreesUnder } from './recovery/unknown-worktrees.js';
import { SyncService } from './sync/sync-service.js';
import { TaskService } from './tasks/task-service.js';
import { TaskReads } from './tasks/task-reads.js';
import { SessionChanges } from './sessions/session-changes.js';
import { createAgentServiceImpl } from './rpc/agent-service.js';
import { recover } from './recovery/recover.js';
import { takeSnapshot } from './snapshot.js';
import { MetaSchema } from './store/entities.js';
import { initOrm } from './store/orm.js';
import { Store } from './store/store.js';

export interface AgentOptions {
  listen: string;
  dataDir: string;
  worktreeRoot?: string | undefined;
  /** Start even when the database knows none of the worktrees under the root (they become orphans). */
  acceptUnknownWorktrees?: boolean | undefined;
  /** HOST:PORT of the coordinator, or of each replica comma-separated (`A,B`): one link to each. */
  coordinator?: string | undefined;
  name?: string | undefined;
  labels?: Record<string, string> | undefined;
  token?: string | undefined;
  tls?: TlsFiles | undefined;
  /** Tasks running at once across sessions (0 or unset: no bound). */
  maxRunningTasks?: number | undefined;
  /** Ports handed out per session, in blocks (--port-range, --ports-per-session). */
  ports?: PortPlan | undefined;
  /** Bytes that must stay free on the worktree root for new sessions and tasks (0: no floor). */
  minFreeDiskBytes?: number | undefined;
  /** HOST:PORT for Prometheus `/metrics` over HTTP; its bound address goes to `<dataDir>/metrics-address`. */
  metrics?: string | undefined;
  /** CA file to verify the coordinator's certificate; set to dial it over TLS. */
  coordinatorCaFile?: string | undefined;
  /** Events kept in the log before compaction. */
  eventRetention?: number | undefined;
  heartbeatMs?: number | undefined;
  taskRetention?: number | undefined;
  /** Finished jobs kept (`--job-retention`, default 1000) and their longest age (`--job-max-age`, default 30 days). */
  jobRetention?: number | undefined;
  jobMaxAgeMs?: number | undefined;
  taskLogCapBytes?: number | undefined;
  cancelGraceMs?: number | undefined;
  jobConcurrency?: number | undefined;
  /** How often running syncs re-check the checkout (pause causes clearing, new commits). */
  syncProbeMs?: number | undefined;
  /** How often due RETRY_REMOVE rows are retried. */
  retryIntervalMs?: number | undefined;
  /** Built-in plus user profiles (loadProfiles); built-ins only when absent. */
  profiles?: ProfileSpec[] | undefined;
  needsInputQuietMs?: number | undefined;
  log: Logger;
}

export interface RunningAgent {
  address: string;
  /** Where `/metrics` is served, when `metrics` was given. */
  metricsAddress: string | undefined;
  identity: AgentIdentity;
  context: AgentContext;
  close(): Promise<void>;
}

const DEFAULT_EVENT_RETENTION = 10_000;
const DEFAULT_RETRY_INTERVAL_MS = 1000;
const DEFAULT_SYNC_PROBE_MS = 2000;

/**
 * A brand-new database (no agent identity yet) while Grove's worktrees sit under the root
 * means the old one was lost (deleted, emptied, or another data dir pointed at the same
 * root): starting on it would present the user's work as strangers. Refused, saying what
 * was found, unless the user accepts them as orphans (listed by `grove orphans ls`, never
 * deleted). A database that has its identity is never refused: worktrees it does not know
 * are ordinary orphans (a crash between making one and recording it).
 */
async function refuseLostDatabase(store: Store, root: string, file: string, accept: boolean): Promise<void> {
  if (accept || (await store.read().findOne(MetaSchema, { key: 'agent_id' }))) return;
  const found = groveWorktreesUnder(root);
  if (found.length === 0) return;
  const listed = found.slice(0, 3).join(', ') + (found.length > 3 ? `, and ${found.length - 3} more` : '');
  throw new StartupError(
    `the worktree root ${root} holds ${found.length} Grove worktree(s) (${listed}) that the database ${file} has no record of: ` +
      'was it deleted or replaced? Restore it, or start with --accept-unknown-worktrees to keep them as orphans (nothing is deleted)',
  );
}

async function loadIdentity(store: Store, options: AgentOptions): Promise<AgentIdentity> {
  const id = await store.transact(async ({ em }) => {
    const existing = await em.findOne(MetaSchema, { key: 'agent_id' });
    if (existing) return existing.value;
    const created = em.create(MetaSchema, { key: 'agent_id', value: newId('agt') });
    return created.value;
  });
  return { id, name: options.name || hostname(), labels: options.labels ?? {}, version: GROVE_VERSION };
}

/**
 * Takes the data directory (one agent per directory), opens the database, reconciles, then
 * serves. Resolves once the port is bound.
 */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const dataDir = resolve(options.dataDir);
  return startHoldingDataDir(dataDir, 'agent', () => startLocked(options, dataDir));
}

async function startLocked(options: AgentOptions, dataDir: string): Promise<RunningAgent> {
  const log = options.log.child({ component: 'agent' });
  const worktreeRoot = resolve(options.worktreeRoot ?? join(dataDir, 'worktrees'));
  mkdirSync(worktreeRoot, { recursive: true });
  const orm = await initOrm(dataDir, options.log.child({ component: 'store' }));
  const events = new EventLog(
    orm,
    options.log.child({ component: 'events' }),
    Math.max(1, options.eventRetention ?? DEFAULT_EVENT_RETENTION),
  );
  const store = new Store(orm, events);
  await refuseLostDatabase(store, worktreeRoot, join(dataDir, 'agent.sqlite'), options.acceptUnknownWorktrees ?? false).catch(
    async (err: unknown) => {
      await orm.close();
      throw err;
    },
  );
  const identity = await loadIdentity(store, options);
  const shutdown = new AbortController();
  const realRoot = realpathSync(worktreeRoot);
  const repos = new RepoService(store, options.log.child({ component: 'repos' }), SessionService.repoUsage, realRoot);
  const jobQueue = new JobQueue(store);
  const disk = new DiskGuard(realRoot, options.minFreeDiskBytes ?? 0);
  const sessions = new SessionService({
    store,
    branchJobs: jobQueue,
    repos,
    worktreeRoot: realRoot,
    log: options.log.child({ component: 'sessions' }),
    activityOf: TaskReads.activityOf,
    disk,
    ports: options.ports,
    queueSetup: (tx, sessionId, steps) => queueSetupTasks(tx, sessionId, steps, join(dataDir, 'tasks')),
  });
  const locks = new LockService(store, options.log.child({ component: 'locks' }));
  const syncs = new SyncService({
    store,
    repos,
    sessions,
    isWorking: TaskReads.isWorking,
    log: options.log.child({ component: 'sync' }),
  });
  const tasks = new TaskService({
    store,
    locks,
    sessions,
    dataDir,
    log: options.log.child({ component: 'tasks' }),
    retention: options.taskRetention,
    logCapBytes: options.taskLogCapBytes,
    cancelGraceMs: options.cancelGraceMs,
    profiles: options.profiles,
    needsInputQuietMs: options.needsInputQuietMs,
    maxRunningTasks: options.maxRunningTasks,
    disk,
    // Tasks find the agent through this file: it moves with the agent's port across restarts.
    agentAddressFile: join(dataDir, 'address'),
    // Commits a task made flow to a following checkout as soon as it ends.
    onTaskEnded: (sessionId) => void syncs.probeAll(sessionId),
  });
  const jobs = new JobService({
    store,
    repos,
    sessions,
    queue: jobQueue,
    dataDir,
    worktreeRoot: realRoot,
    log: options.log.child({ component: 'jobs' }),
    concurrency: options.jobConcurrency,
    isWorking: (sessionId) => TaskReads.isWorking(store.read(), sessionId),
  });
  const coordinators = coordinatorAddresses(options.coordinator);
  const context: AgentContext = {
    identity,
    worktreeRoot: realRoot,
    log,
    store,
    repos,
    sessions,
    changes: new SessionChanges({
      sessions,
      repos,
      isWorking: (sessionId) => TaskReads.isWorking(store.read(), sessionId),
      log: options.log.child({ component: 'changes' }),
    }),
    tasks,
    locks,
    jobs,
    syncs,
    maxRunningTasks: options.maxRunningTasks ?? 0,
    links: coordinators.map((coordinator) => ({ coordinator, state: 'connecting', lastError: '', welcomes: 0 })),
    snapshot: () => takeSnapshot(store),
    shutdown: shutdown.signal,
  };
  // Recovery is start-up: reality and the database agree before the first call is served.
  const recovered = await recover(store, sessions, tasks, jobs, syncs);
  log.info(recovered, 'start-up recovery done');
  tasks.startMonitor();
  const jobRetention = {
    keep: options.jobRetention ?? DEFAULT_JOB_RETENTION.keep,
    maxAgeMs: options.jobMaxAgeMs ?? DEFAULT_JOB_RETENTION.maxAgeMs,
  };
  const compactJobs = () =>
    dropOldJobs(store, jobRetention)
      .then((dropped) => dropped > 0 && log.info({ dropped }, 'finished jobs compacted'))
      .catch((err: unknown) => log.error({ err }, 'compacting finished jobs failed'));
  await compactJobs();
  let maintenanceTicks = 0;
  const retryTimer = setInterval(() => {
    sessions.maintain().catch((err: unknown) => log.error({ err }, 'session maintenance failed'));
    // Retention is no hurry: about once a minute.
    if (++maintenanceTicks % 60 === 0) void compactJobs();
  }, options.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS);
  retryTimer.unref();
  const syncTimer = setInterval(() => void syncs.probeAll(), options.syncProbeMs ?? DEFAULT_SYNC_PROBE_MS);
  syncTimer.unref();
  const metrics = createAgentMetrics(store, context.links);
  const server = await startGrpcServer({
    listen: options.listen,
    log,
    token: options.token,
    tls: options.tls,
    // Calls are timed only when someone can read the result: no middleware otherwise.
    metrics: options.metrics ? { registry: metrics, prefix: AGENT_METRICS_PREFIX } : undefined,
    serviceNames: [AgentServiceDefinition.fullName],
    register: (s) => s.add(AgentServiceDefinition, createAgentServiceImpl(context)),
  });
  const links: RunningLink[] = context.links.map((status) =>
    startLink({
      coordinator: status.coordinator,
      status,
      token: options.token,
      caFile: options.coordinatorCaFile,
      context,
      heartbeatMs: options.heartbeatMs,
      log: options.log.child({ component: 'link', ...(context.links.length > 1 ? { coordinator: status.coordinator } : {}) }),
    }),
  );
  // Where tasks reach this agent now (`grove signal`): it moves with the port across restarts.
  writeFileAtomically(join(dataDir, 'address'), server.address);
  const http = options.metrics
    ? await startHttpServer({
        listen: options.metrics,
        log,
        token: options.token,
        tls: options.tls,
        routes: { '/metrics': metricsRoute(metrics) },
      }).catch(async (err: unknown) => {
        await Promise.all(links.map((link) => link.close()));
        await server.close();
        throw err;
      })
    : undefined;
  if (http) writeFileAtomically(join(dataDir, 'metrics-address'), `${http.address}\n`);
  log.info(
    { address: server.address, metrics: http?.address, agent: identity.id, name: identity.name, dataDir, worktreeRoot },
    'agent serving',
  );
  return {
    address: server.address,
    metricsAddress: http?.address,
    identity,
    context,
    async close() {
      clearInterval(retryTimer);
      clearInterval(syncTimer);
      await tasks.stop();
      await jobs.stop();
      shutdown.abort();
      await Promise.all(links.map((link) => link.close()));
      await http?.close();
      await server.close();
      await orm.close();
      log.info('agent stopped');
    },
  };
}

/** `--coordinator A,B`: each replica once, in the order given. */
export function coordinatorAddresses(flag: string | undefined): string[] {
  return [...new Set((flag ?? '').split(',').map((address) => address.trim()))].filter((address) => address !== '');
}
