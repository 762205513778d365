import { parseArgs } from 'node:util';
import { readTokenFile } from '../common/auth.js';
import { parseDuration } from '../common/duration.js';
import { createLogger } from '../common/logging.js';
import { announceReady, closeOnSignals } from '../common/ready.js';
import { startCoordinator } from './coordinator.js';

export const COORDINATOR_SERVE_USAGE = `grove coordinator serve [options]
  --listen HOST:PORT        address to bind (default 127.0.0.1:7421; port 0 picks a free one)
  --data-dir DIR            agent registry and command audit (default .grove/coordinator)
  --token-file FILE         shared bearer token required from agents and clients
  --tls-cert FILE --tls-key FILE   serve TLS
  --agent-grace DURATION    a link silent this long stops counting as CONNECTED (default 6s)
  --agent-ttl DURATION      an agent silent this long is UNKNOWN (default 30s)
  --heartbeat DURATION      heartbeat interval asked of agents (default 2s)
  --watch-buffer N          changes a watcher may fall behind before it is cut off with
                            RESOURCE_EXHAUSTED (default 1000)
  --watch-history N         changes kept for watchers to resume from (default 10000)
  --route-timeout DURATION  how long a routed call waits for its agent by default (default 30s)
  --ready-file FILE         also write the bound address here (atomically)
  --log-level LEVEL         pino level (default info; GROVE_LOG_LEVEL)`;

function positiveInteger(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${flag} must be a positive integer`);
  return value;
}

/** `grove coordinator serve`: runs until SIGTERM/SIGINT. */
export async function serveCoordinator(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      listen: { type: 'string', default: '127.0.0.1:7421' },
      'data-dir': { type: 'string', default: '.grove/coordinator' },
      'token-file': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'agent-grace': { type: 'string' },
      'agent-ttl': { type: 'string' },
      heartbeat: { type: 'string' },
      'watch-buffer': { type: 'string' },
      'watch-history': { type: 'string' },
      'route-timeout': { type: 'string' },
      'ready-file': { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  const log = createLogger({ level: values['log-level'], name: 'grove-coordinator' });
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) {
    throw new Error('--tls-cert and --tls-key go together');
  }
  const coordinator = await startCoordinator({
    listen: values.listen,
    dataDir: values['data-dir'],
    token: values['token-file'] ? readTokenFile(values['token-file']) : undefined,
    tls: values['tls-cert'] && values['tls-key'] ? { certFile: values['tls-cert'], keyFile: values['tls-key'] } : undefined,
    agentGraceMs: values['agent-grace'] ? parseDuration(values['agent-grace']) : undefined,
    agentTtlMs: values['agent-ttl'] ? parseDuration(values['agent-ttl']) : undefined,
    heartbeatMs: values.heartbeat ? parseDuration(values.heartbeat) : undefined,
    watchBuffer: positiveInteger(values['watch-buffer'], '--watch-buffer'),
    watchHistory: positiveInteger(values['watch-history'], '--watch-history'),
    routeTimeoutMs: values['route-timeout'] ? parseDuration(values['route-timeout']) : undefined,
    log,
  });
  closeOnSignals(
    () => coordinator.close(),
    (err) => log.error({ err }, 'shutdown failed'),
  );
  announceReady(coordinator.address, values['ready-file']);
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  serveCoordinator(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`grove coordinator: ${(err as Error).message ?? err}\n`);
    process.exit(1);
  });
}
