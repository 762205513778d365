import { readFileSync } from 'node:fs';
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
import { hostOf, isLoopbackHost } from '../common/loopback.js';
import { startCoordinator } from './coordinator.js';
import { checkDbUrl } from './store/orm.js';
import { parseNotificationTypes } from './webhooks/notifications.js';
import { checkWebhookUrl, type WebhookSettings } from './webhooks/webhook-outbox.js';

export const COORDINATOR_SERVE_USAGE = `grove coordinator serve [options]
  --listen HOST:PORT        address to bind (default 127.0.0.1:7421; port 0 picks a free one)
  --data-dir DIR            agent registry and command audit (default .grove/coordinator)
  --db postgresql://USER@HOST:PORT/DB  keep them in PostgreSQL instead of SQLite in DATA_DIR:
                            replicas on one database share groups and the webhook outbox (agents
                            link to each: --coordinator A,B). Password in PGPASSWORD or ~/.pgpass
  --token-file FILE         shared bearer token required from agents and clients
  --tls-cert FILE --tls-key FILE   serve TLS
  --agent-grace DURATION    a link silent this long stops counting as CONNECTED (default 6s)
  --agent-ttl DURATION      an agent silent this long is UNKNOWN (default 30s)
  --heartbeat DURATION      heartbeat interval asked of agents (default 2s)
  --watch-buffer N          changes a watcher may fall behind before it is cut off with
                            RESOURCE_EXHAUSTED (default 1000)
  --watch-history N         changes kept for watchers to resume from (default 10000)
  --route-timeout DURATION  how long a routed call waits for its agent by default (default 30s)
  --http HOST:PORT          serve the web page, its API and /metrics (Prometheus) here (default
                            127.0.0.1:7422; port 0 picks one); same token (a login cookie for the
                            page) and TLS; beyond loopback only with --token-file. The URL is the
                            ready line's second line; the address is also in DATA_DIR/http-address
  --no-http                 serve no HTTP
  --webhook URL             POST notifications here as signed JSON (repeatable), from a durable
                            outbox: retried with backoff until answered 2xx, across restarts
  --webhook-events LIST     which: task.ended,task.failed,task.needs_input,agent.unknown,
                            job.failed,land.done (default all)
  --webhook-secret-file FILE  HMAC-SHA256 key: X-Grove-Signature-256: sha256=<hex> on each POST
  --webhook-max-backoff DURATION  longest wait between attempts (default 5m)
  --audit-retention N       command audit rows kept (default 100000)
  --audit-max-age DURATION  command audit rows older than this are dropped (default 30d)
  --ready-file FILE         also write the bound address here (atomically)
  --log-level LEVEL         pino level (default info; GROVE_LOG_LEVEL)`;

/** `--webhook*` flags: receivers must be http(s), events known, the secret readable and not empty. */
function webhookFlags(values: {
  webhook: string[];
  'webhook-events'?: string | undefined;
  'webhook-secret-file'?: string | undefined;
  'webhook-max-backoff'?: string | undefined;
}): WebhookSettings | undefined {
  const urls = values.webhook.map(checkWebhookUrl);
  const types = parseNotificationTypes(values['webhook-events']);
  const secretFile = values['webhook-secret-file'];
  if (urls.length === 0) {
    if (secretFile || values['webhook-events']) throw new Error('--webhook-events and --webhook-secret-file need --webhook URL');
    return undefined;
  }
  const secret = secretFile ? readFileSync(secretFile, 'utf8').trim() : undefined;
  if (secretFile && !secret) throw new Error(`--webhook-secret-file ${secretFile} is empty`);
  return { urls: [...new Set(urls)], types, secret, maxBackoffMs: optionalDuration(values['webhook-max-backoff']) };
}

/** `--http`: beyond loopback only with a token, since the page can drive every agent. */
function httpFlag(http: string | undefined, tokenFile: string | undefined): string | undefined {
  if (http && !tokenFile && !isLoopbackHost(hostOf(http))) {
    throw new Error(`--http ${http} is not a loopback address: serving the page beyond this machine needs --token-file`);
  }
  return http;
}

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
        db: { type: 'string' },
        'agent-grace': { type: 'string' },
        'agent-ttl': { type: 'string' },
        heartbeat: { type: 'string' },
        'watch-buffer': { type: 'string' },
        'watch-history': { type: 'string' },
        'route-timeout': { type: 'string' },
        http: { type: 'string', default: '127.0.0.1:7422' },
        'no-http': { type: 'boolean', default: false },
        webhook: { type: 'string', multiple: true, default: [] },
        'webhook-events': { type: 'string' },
        'webhook-secret-file': { type: 'string' },
        'webhook-max-backoff': { type: 'string' },
        'audit-retention': { type: 'string' },
        'audit-max-age': { type: 'string' },
      },
    });
    const log = createLogger({ level: values['log-level'], name: 'grove-coordinator' });
    return {
      options: {
        listen: values.listen,
        dataDir: values['data-dir'],
        dbUrl: values.db === undefined ? undefined : checkDbUrl(values.db),
        ...securityFromFlags(values),
        agentGraceMs: optionalDuration(values['agent-grace']),
        agentTtlMs: optionalDuration(values['agent-ttl']),
        heartbeatMs: optionalDuration(values.heartbeat),
        watchBuffer: positiveInteger(values['watch-buffer'], '--watch-buffer'),
        watchHistory: positiveInteger(values['watch-history'], '--watch-history'),
        routeTimeoutMs: optionalDuration(values['route-timeout']),
        http: httpFlag(values['no-http'] ? undefined : values.http, values['token-file']),
        webhooks: webhookFlags(values),
        retention: {
          auditRows: positiveInteger(values['audit-retention'], '--audit-retention'),
          auditMaxAgeMs: optionalDuration(values['audit-max-age']),
        },
        log,
      },
      readyFile: values['ready-file'],
    };
  });
  const coordinator = await startCoordinator(options);
  serveUntilSignalled(coordinator, readyFile, options.log);
}

runIfEntryPoint(import.meta.url, 'grove coordinator', serveCoordinator);
