import { parseArgs } from 'node:util';
import { readTokenFile } from '../common/auth.js';
import { parseDuration } from '../common/duration.js';
import { createLogger } from '../common/logging.js';
import { parseLabels } from '../common/paging.js';
import { announceReady, closeOnSignals } from '../common/ready.js';
import { startAgent } from './agent.js';

export const AGENT_SERVE_USAGE = `grove agent serve [options]
  --listen HOST:PORT        address to bind (default 127.0.0.1:7420; port 0 picks a free one)
  --data-dir DIR            database and task logs (default .grove/agent)
  --worktree-root DIR       where session worktrees go (default DATA_DIR/worktrees)
  --coordinator HOST:PORT   dial out to this coordinator and hold a link to it
  --name NAME               agent name shown by the coordinator (default: host name)
  --labels k=v,...          labels for routing by selector
  --token-file FILE         shared bearer token required from clients and sent on the link
  --tls-cert FILE --tls-key FILE   serve TLS
  --coordinator-ca FILE     verify the coordinator's TLS certificate with this CA
  --ready-file FILE         also write the bound address here (atomically)
  --event-retention N       events kept before compaction (default 10000)
  --heartbeat DURATION      link heartbeat interval (default 2s)
  --task-retention N        newest tasks kept per session (default 1000)
  --task-log-cap BYTES      log bytes kept per task, the tail (default 8388608)
  --cancel-grace DURATION   SIGTERM to SIGKILL on cancel (default 5s)
  --job-concurrency N       background jobs run at once, one per repo (default 4)
  --sync-probe DURATION     how often running syncs re-check the checkout (default 2s)
  --log-level LEVEL         pino level (default info; GROVE_LOG_LEVEL)`;

function positiveInteger(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${flag} must be a positive integer`);
  return value;
}

/** `grove agent serve`: runs until SIGTERM/SIGINT. */
export async function serveAgent(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      listen: { type: 'string', default: '127.0.0.1:7420' },
      'data-dir': { type: 'string', default: '.grove/agent' },
      'worktree-root': { type: 'string' },
      coordinator: { type: 'string' },
      name: { type: 'string' },
      labels: { type: 'string', default: '' },
      'token-file': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'coordinator-ca': { type: 'string' },
      'ready-file': { type: 'string' },
      'event-retention': { type: 'string' },
      heartbeat: { type: 'string' },
      'task-retention': { type: 'string' },
      'task-log-cap': { type: 'string' },
      'cancel-grace': { type: 'string' },
      'job-concurrency': { type: 'string' },
      'sync-probe': { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  const log = createLogger({ level: values['log-level'], name: 'grove-agent' });
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) {
    throw new Error('--tls-cert and --tls-key go together');
  }
  const retention = positiveInteger(values['event-retention'], '--event-retention');
  const agent = await startAgent({
    listen: values.listen,
    dataDir: values['data-dir'],
    worktreeRoot: values['worktree-root'],
    coordinator: values.coordinator,
    name: values.name,
    labels: parseLabels(values.labels),
    token: values['token-file'] ? readTokenFile(values['token-file']) : undefined,
    tls: values['tls-cert'] && values['tls-key'] ? { certFile: values['tls-cert'], keyFile: values['tls-key'] } : undefined,
    coordinatorCaFile: values['coordinator-ca'],
    eventRetention: retention,
    heartbeatMs: values.heartbeat ? parseDuration(values.heartbeat) : undefined,
    taskRetention: positiveInteger(values['task-retention'], '--task-retention'),
    taskLogCapBytes: positiveInteger(values['task-log-cap'], '--task-log-cap'),
    cancelGraceMs: values['cancel-grace'] ? parseDuration(values['cancel-grace']) : undefined,
    jobConcurrency: positiveInteger(values['job-concurrency'], '--job-concurrency'),
    syncProbeMs: values['sync-probe'] ? parseDuration(values['sync-probe']) : undefined,
    log,
  });
  closeOnSignals(
    () => agent.close(),
    (err) => log.error({ err }, 'shutdown failed'),
  );
  announceReady(agent.address, values['ready-file']);
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  serveAgent(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`grove agent: ${(err as Error).message ?? err}\n`);
    process.exit(1);
  });
}
