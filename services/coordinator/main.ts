import { parseArgs } from 'node:util';
import { createLogger } from '../common/logging.js';
import {
  COMMON_SERVE_OPTIONS,
  optionalDuration,
  positiveInteger,
  runIfEntryPoint,
  securityFromFlags,
  serveUntilSignalled,
  parseServeFlags,
} from '../common/serve-flags.js';
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
  --http HOST:PORT          also serve HTTP here: /metrics (Prometheus); same token and TLS;
                            the bound address is written to DATA_DIR/http-address
  --ready-file FILE         also write the bound address here (atomically)
  --log-level LEVEL         pino level (default info; GROVE_LOG_LEVEL)`;

/** `grove coordinator serve`: runs until SIGTERM/SIGINT. */
export async function serveCoordinator(argv: string[]): Promise<void> {
  const { options, readyFile } = parseServeFlags(() => {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        ...COMMON_SERVE_OPTIONS,
        listen: { type: 'string', default: '127.0.0.1:7421' },
        'data-dir': { type: 'string', default: '.grove/coordinator' },
        'agent-grace': { type: 'string' },
        'agent-ttl': { type: 'string' },
        heartbeat: { type: 'string' },
        'watch-buffer': { type: 'string' },
        'watch-history': { type: 'string' },
        'route-timeout': { type: 'string' },
        http: { type: 'string' },
      },
    });
    const log = createLogger({ level: values['log-level'], name: 'grove-coordinator' });
    return {
      options: {
        listen: values.listen,
        dataDir: values['data-dir'],
        ...securityFromFlags(values),
        agentGraceMs: optionalDuration(values['agent-grace']),
        agentTtlMs: optionalDuration(values['agent-ttl']),
        heartbeatMs: optionalDuration(values.heartbeat),
        watchBuffer: positiveInteger(values['watch-buffer'], '--watch-buffer'),
        watchHistory: positiveInteger(values['watch-history'], '--watch-history'),
        routeTimeoutMs: optionalDuration(values['route-timeout']),
        http: values.http,
        log,
      },
      readyFile: values['ready-file'],
    };
  });
  const coordinator = await startCoordinator(options);
  serveUntilSignalled(coordinator, readyFile, options.log);
}

runIfEntryPoint(import.meta.url, 'grove coordinator', serveCoordinator);
