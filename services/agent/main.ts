import { readFileSync } from 'node:fs';
import { loadProfiles } from './tasks/task-profiles.js';
import { parseArgs } from 'node:util';
import { createLogger } from '../common/logging.js';
import { parseLabels } from '../common/paging.js';
import {
  COMMON_SERVE_OPTIONS,
  optionalDuration,
  positiveInteger,
  runIfEntryPoint,
  securityFromFlags,
  serveUntilSignalled,
  parseServeFlags,
} from '../common/serve-flags.js';
import { coordinatorAddresses, startAgent } from './agent.js';
import { parsePortRange, type PortPlan } from './domain/port-blocks.js';
import { hostOf, isLoopbackHost } from '../common/loopback.js';

export const AGENT_SERVE_USAGE = `grove agent serve [options]
  --listen HOST:PORT        address to bind (default 127.0.0.1:7420; port 0 picks a free one)
  --data-dir DIR            database and task logs (default .grove/agent)
  --worktree-root DIR       where session worktrees go (default DATA_DIR/worktrees)
  --accept-unknown-worktrees  start although the database knows none of Grove's worktrees
                            under the root (a lost database); they are kept as orphans
  --coordinator HOST:PORT   dial out to this coordinator and hold a link to it; replicas on one
                            database: HOST:PORT,HOST:PORT (a link to each)
  --name NAME               agent name shown by the coordinator (default: host name)
  --labels k=v,...          labels for routing by selector
  --token-file FILE         shared bearer token required from clients and sent on the link
  --tls-cert FILE --tls-key FILE   serve TLS
  --coordinator-ca FILE     verify the coordinator's TLS certificate with this CA
  --allow-plaintext-link    link to a coordinator off this machine without TLS (its traffic,
                            and so its commands, can then be read and relayed on the way)
  --ready-file FILE         also write the bound address here (atomically)
  --event-retention N       events kept before compaction (default 10000)
  --heartbeat DURATION      link heartbeat interval (default 2s)
  --task-retention N        newest tasks kept per session (default 1000)
  --job-retention N         finished jobs kept (default 1000)
  --job-max-age DURATION    finished jobs older than this are dropped (default 30d)
  --task-log-cap BYTES      log bytes kept per task, the tail (default 8388608)
  --cancel-grace DURATION   SIGTERM to SIGKILL on cancel (default 5s)
  --job-concurrency N       background jobs run at once, one per repo (default 4)
  --sync-probe DURATION     how often running syncs re-check the checkout (default 2s)
  --maintenance DURATION    how often failed removals are retried and drift repaired (default 1s)
  --profiles FILE           agent profiles of your own (JSON, see \`grove profile ls\`)
  --needs-input-quiet DURATION   a terminal task quiet this long while it reads its terminal
                            is NEEDS_INPUT (default 2s)
  --max-running-tasks N     tasks running at once across all sessions; the rest wait QUEUED,
                            oldest first (default: no bound)
  --min-free-disk BYTES     below this much free space on the worktree root, new sessions and
                            tasks are refused with RESOURCE_EXHAUSTED (K, M, G suffixes; default 0)
  --port-range FIRST-LAST   ports to hand out to sessions, a block each (GROVE_PORT in tasks)
  --ports-per-session K     the size of each session's block (default 1; needs --port-range)
  --metrics HOST:PORT       serve Prometheus /metrics over HTTP here (same token and TLS);
                            the bound address is written to DATA_DIR/metrics-address
  --log-level LEVEL         pino level (default info; GROVE_LOG_LEVEL)`;

/** `--min-free-disk 2G`: a byte count with an optional K, M, G or T suffix (powers of 1024). */
function byteSize(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)([KMGT]?)i?B?$/i.exec(text.trim());
  if (!match) throw new Error(`${flag} takes a size like 500M or 2G, not "${text}"`);
  const power = ' KMGT'.indexOf(match[2]!.toUpperCase() || ' ');
  return Number(match[1]) * 1024 ** power;
}

/** The kernel's ephemeral port range, when it can be read. */
function ephemeralPorts(): { first: number; last: number } | undefined {
  try {
    const [first, last] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return first && last ? { first, last } : undefined;
  } catch {
    return undefined;
  }
}

function portPlan(range: string | undefined, perSession: string | undefined): PortPlan | undefined {
  if (range === undefined) {
    if (perSession !== undefined) throw new Error('--ports-per-session needs --port-range');
    return undefined;
  }
  const parsed = parsePortRange(range);
  if (typeof parsed === 'string') throw new Error(`--port-range ${parsed}`);
  const ephemeral = ephemeralPorts();
  if (ephemeral && parsed.first <= ephemeral.last && ephemeral.first <= parsed.last) {
    // The kernel hands these to every outgoing connection: a session's dev server would clash.
    throw new Error(
      `--port-range ${range} overlaps the kernel's ephemeral ports ${ephemeral.first}-${ephemeral.last} (net.ipv4.ip_local_port_range); choose ports below ${ephemeral.first}`,
    );
  }
  const size = positiveInteger(perSession, '--ports-per-session') ?? 1;
  if (size > parsed.last - parsed.first + 1) throw new Error(`--ports-per-session ${size} is more than --port-range ${range} holds`);
  return { ...parsed, perSession: size };
}

/** A link to another machine without TLS is a choice to make out loud, not a default. */
function plaintextLinkChecked(coordinator: string | undefined, caFile: string | undefined, allowed: boolean): string | undefined {
  for (const address of coordinatorAddresses(coordinator)) {
    if (!caFile && !allowed && !isLoopbackHost(hostOf(address))) {
      throw new Error(
        `--coordinator ${address} is not on this machine: give --coordinator-ca to verify it over TLS, or --allow-plaintext-link`,
      );
    }
  }
  return caFile;
}

/** `grove agent serve`: runs until SIGTERM/SIGINT. */
export async function serveAgent(argv: string[]): Promise<void> {
  const { options, readyFile } = parseServeFlags(() => {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        ...COMMON_SERVE_OPTIONS,
        listen: { type: 'string', default: '127.0.0.1:7420' },
        'data-dir': { type: 'string', default: '.grove/agent' },
        'worktree-root': { type: 'string' },
        'accept-unknown-worktrees': { type: 'boolean', default: false },
        coordinator: { type: 'string' },
        name: { type: 'string' },
        labels: { type: 'string', default: '' },
        'coordinator-ca': { type: 'string' },
        'allow-plaintext-link': { type: 'boolean', default: false },
        'event-retention': { type: 'string' },
        heartbeat: { type: 'string' },
        'task-retention': { type: 'string' },
        'job-retention': { type: 'string' },
        'job-max-age': { type: 'string' },
        'task-log-cap': { type: 'string' },
        'cancel-grace': { type: 'string' },
        'job-concurrency': { type: 'string' },
        'sync-probe': { type: 'string' },
        maintenance: { type: 'string' },
        profiles: { type: 'string' },
        metrics: { type: 'string' },
        'max-running-tasks': { type: 'string' },
        'min-free-disk': { type: 'string' },
        'port-range': { type: 'string' },
        'ports-per-session': { type: 'string' },
        'needs-input-quiet': { type: 'string' },
      },
    });
    const log = createLogger({ level: values['log-level'], name: 'grove-agent' });
    const retention = positiveInteger(values['event-retention'], '--event-retention');
    return {
      options: {
        listen: values.listen,
        dataDir: values['data-dir'],
        worktreeRoot: values['worktree-root'],
        acceptUnknownWorktrees: values['accept-unknown-worktrees'],
        coordinator: values.coordinator,
        name: values.name,
        labels: parseLabels(values.labels),
        ...securityFromFlags(values),
        coordinatorCaFile: plaintextLinkChecked(values.coordinator, values['coordinator-ca'], values['allow-plaintext-link']),
        eventRetention: retention,
        heartbeatMs: optionalDuration(values.heartbeat),
        taskRetention: positiveInteger(values['task-retention'], '--task-retention'),
        jobRetention: positiveInteger(values['job-retention'], '--job-retention'),
        jobMaxAgeMs: optionalDuration(values['job-max-age']),
        taskLogCapBytes: positiveInteger(values['task-log-cap'], '--task-log-cap'),
        cancelGraceMs: optionalDuration(values['cancel-grace']),
        jobConcurrency: positiveInteger(values['job-concurrency'], '--job-concurrency'),
        syncProbeMs: optionalDuration(values['sync-probe']),
        retryIntervalMs: optionalDuration(values.maintenance),
        profiles: loadProfiles(values.profiles),
        needsInputQuietMs: optionalDuration(values['needs-input-quiet']),
        metrics: values.metrics,
        maxRunningTasks: positiveInteger(values['max-running-tasks'], '--max-running-tasks'),
        minFreeDiskBytes: byteSize(values['min-free-disk'], '--min-free-disk'),
        ports: portPlan(values['port-range'], values['ports-per-session']),
        log,
      },
      readyFile: values['ready-file'],
    };
  });
  const agent = await startAgent(options);
  serveUntilSignalled(agent, readyFile, options.log);
}

runIfEntryPoint(import.meta.url, 'grove agent', serveAgent);
