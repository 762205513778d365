import { setMaxListeners } from 'node:events';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createChannel, createClient, type Channel } from 'nice-grpc';
import { AgentServiceDefinition, type AgentServiceClient } from '../gen/grove/agent/v1/agent_service.js';
import { Client, credentials } from '@grpc/grpc-js';
import {
  CoordinatorServiceDefinition,
  WatchRequest,
  type CoordinatorServiceClient,
  type WatchResponse,
} from '../gen/grove/coordinator/v1/coordinator_service.js';
import { startAgent, type RunningAgent } from '../services/agent/agent.js';
import { createLogger } from '../services/common/logging.js';
import { Arrivals } from './coordinator-arrivals.js';
import { startFleet, type Fleet } from './coordinator-fleet.js';
import { until } from './fixtures.js';
import { killAndWait, stopAndWait, tracked } from './child-processes.js';

export interface RigOptions {
  agents: number;
  sessionsPerAgent: number;
  watchers: number;
  /** Watch streams share this many connections. */
  watchChannels: number;
  teams: number;
  /** Simulated agents per fleet worker process (default 250). */
  agentsPerProcess?: number | undefined;
}

export const DEFAULT_RIG: RigOptions = { agents: 100, sessionsPerAgent: 100, watchers: 200, watchChannels: 4, teams: 10 };

/**
 * How long the rig waits for the whole fleet to be projected before giving up: a floor for
 * small fleets, and time in proportion to the fleet (a 1,000-agent initial sync took ~20 s
 * on this 2-core machine with the old single-process fleet; 120 ms an agent is six times that).
 */
export function fleetDeadlineMs(agents: number): number {
  return Math.max(30_000, agents * 120);
}

/** A reconnect storm, as `CoordinatorRig.storm` measured it. */
export interface StormResult {
  /** SIGKILL until the new coordinator wrote its ready file. */
  restartMs: number;
  /** SIGKILL until every simulated agent's snapshot was applied again (NaN if some never were). */
  recoveryMs: number;
  /** Peak RSS of the new coordinator over the storm (VmHWM), and its RSS at the end. */
  peakRssMb: number;
  rssMb: number;
  /** Simulated agents not back in the projection by the deadline. */
  missing: number;
  /** Sessions the projection serves once the storm is over (should be agents x sessions). */
  sessions: number;
  /** Simulated agents whose link the new coordinator never welcomed, by their own count. */
  neverWelcomed: number;
  /** Welcomes beyond one per agent during the storm: links that failed after their Welcome and redialled. */
  relinks: number;
  /** CPU seconds over the storm of the new coordinator, and of the fleet's workers together. */
  coordinatorCpuS: number;
  fleetCpuS: number;
}

export interface Memory {
  rssMb: number;
  /** Peak resident set size of the process so far. */
  peakRssMb: number;
}

/**
 * Everything the coordinator bench measures against: the coordinator as a child process
 * (so its memory is its own), a fleet of simulated agents linked to it, watchers, and two
 * real in-process agents — one linked, one not (the direct-watch floor).
 */
export interface CoordinatorRig {
  client: CoordinatorServiceClient;
  fleet: Fleet;
  /** Sends one link event (from the next simulated agent in turn) and answers each watcher's latency (ms) once all have it. */
  propagate(): Promise<number[]>;
  /** AddRepo or RemoveRepo on the linked real agent; ms until a coordinator watcher has the event. */
  realAgentToWatcher(): Promise<number>;
  /** AddRepo or RemoveRepo on the unlinked agent; ms until its own WatchEvents subscriber has it. */
  directAgentWatch(): Promise<number>;
  memory(): Memory;
  /** ms from starting the fleet until every simulated agent's snapshot was applied. */
  syncMs: number;
  /**
   * The reconnect storm: SIGKILLs the coordinator, restarts it on the same data dir and
   * port, and waits (up to `deadlineMs`) until every simulated agent is projected again.
   * The rig's watchers are gone afterwards; `client` is replaced by one to the new process.
   */
  storm(deadlineMs?: number): Promise<StormResult>;
  close(): Promise<void>;
}

const COORDINATOR_MAIN = fileURLToPath(new URL('../services/coordinator/main.js', import.meta.url));

function spawnCoordinator(
  dataDir: string,
  listen = '127.0.0.1:0',
  readyTimeoutMs = 30_000,
): { child: ChildProcess; ready: Promise<string> } {
  const readyFile = join(dataDir, 'ready');
  rmSync(readyFile, { force: true });
  // GROVE_BENCH_COORDINATOR_NODE_OPTIONS: node flags for the coordinator only (e.g. --cpu-prof).
  const nodeFlags = (process.env.GROVE_BENCH_COORDINATOR_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  const child = tracked(
    spawn(
      process.execPath,
      [
        ...nodeFlags,
        COORDINATOR_MAIN,
        '--listen',
        listen,
        '--no-http',
        '--data-dir',
        dataDir,
        '--ready-file',
        readyFile,
        '--log-level',
        'warn',
        // Generous: the bench measures throughput, not liveness under a starved event loop.
        '--heartbeat',
        '2s',
        '--agent-grace',
        '10s',
        '--agent-ttl',
        '60s',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    ),
  );
  const ready = until(
    () => {
      if (child.exitCode !== null) throw new Error(`the coordinator exited (${child.exitCode}) before it was ready`);
      return existsSync(readyFile) ? readFileSync(readyFile, 'utf8').split('\n')[0] || undefined : undefined;
    },
    'the coordinator',
    readyTimeoutMs,
  );
  return { child, ready };
}

/** User + system CPU seconds of a live process so far (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function readMemory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

const WATCH_PATH = `/${CoordinatorServiceDefinition.fullName}/${CoordinatorServiceDefinition.methods.watch.name}`;
const TITLE = Buffer.from('bench-');

/** `bench-<n>` if the encoded response carries a retitled session, found without decoding. */
function titleMarker(bytes: Buffer): string | undefined {
  const at = bytes.indexOf(TITLE);
  if (at < 0) return undefined;
  let end = at + TITLE.length;
  while (end < bytes.length && bytes[end]! >= 0x30 && bytes[end]! <= 0x39) end++;
  return bytes.toString('latin1', at, end);
}

/** Marks what the decoding watcher waits for: repo events, by owner and agent revision. */
function markerOf(response: WatchResponse): string | undefined {
  if (response.change?.$case !== 'event') return undefined;
  const event = response.change.value;
  if (event.payload?.$case === 'repo') return `repo:${response.agentId}:${event.revision}`;
  return undefined;
}

/** A git repository with one commit, for AddRepo. */
function makeBenchRepo(path: string): string {
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: path,
      stdio: 'ignore',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'bench',
        GIT_AUTHOR_EMAIL: 'bench@grove.invalid',
        GIT_COMMITTER_NAME: 'bench',
        GIT_COMMITTER_EMAIL: 'bench@grove.invalid',
      },
    });
  mkdirSync(path, { recursive: true });
  git('init', '--quiet', '--initial-branch=main');
  writeFileSync(join(path, 'README.md'), '# bench\n');
  git('add', '--all');
  git('commit', '--quiet', '-m', 'initial');
  return path;
}

/** An agent with one repo path it adds and removes in turn: every call is one event. */
function repoToggler(client: AgentServiceClient, path: string) {
  let present = false;
  return async (): Promise<number> => {
    present = !present;
    return present ? (await client.addRepo({ path, name: 'bench' })).revision : (await client.removeRepo({ id: 'bench' })).revision;
  };
}

/** Simulated agents (label sim=yes) whose snapshot the coordinator has applied. */
async function projectedAgents(client: CoordinatorServiceClient): Promise<number> {
  let synced = 0;
  let pageToken = '';
  do {
    const page = await client.listAgents({ pageSize: 1000, pageToken, labelSelector: 'sim=yes' });
    synced += page.agents.filter((a) => a.appliedRevision > 0).length;
    pageToken = page.nextPageToken;
  } while (pageToken);
  return synced;
}

/** Every session the coordinator serves, counted page by page. */
async function countSessions(client: CoordinatorServiceClient): Promise<number> {
  let count = 0;
  let pageToken = '';
  do {
    const page = await client.listSessions({ pageSize: 1000, pageToken });
    count += page.sessions.length;
    pageToken = page.nextPageToken;
  } while (pageToken);
  return count;
}

export async function startCoordinatorRig(options: RigOptions = DEFAULT_RIG): Promise<CoordinatorRig> {
  const root = mkdtempSync(join(tmpdir(), 'grove-bench-coordinator-'));
  const cleanups: Array<() => unknown> = [() => rmSync(root, { recursive: true, force: true })];
  // Idempotent: each cleanup runs once, newest first, however often close is called.
  const close = async () => {
    for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) await cleanup();
  };
  try {
    const dataDir = join(root, 'coordinator');
    const first = spawnCoordinator(dataDir);
    let child = first.child;
    // Whichever coordinator is running by then (the storm replaces it). Killed: its graceful
    // shutdown logs every link's disconnect failing against the closed database. Asked to
    // stop only when profiling, so it can write its profile.
    cleanups.push(() => (process.env.GROVE_BENCH_COORDINATOR_NODE_OPTIONS ? stopAndWait(child) : killAndWait(child)));
    const address = await first.ready;
    const channels: Channel[] = [];
    cleanups.push(() => channels.forEach((c) => c.close()));
    const connect = (target: string) => {
      const channel = createChannel(target);
      channels.push(channel);
      return channel;
    };
    const client = createClient(CoordinatorServiceDefinition, connect(address));

    const fleetStarted = performance.now();
    const fleet = await startFleet(address, options);
    cleanups.push(() => fleet.close());
    await until(
      async () => ((await projectedAgents(client)) >= options.agents ? true : undefined),
      'every simulated agent to be projected',
      fleetDeadlineMs(options.agents),
    );
    const syncMs = performance.now() - fleetStarted;

    // Two real agents: one linked (the whole path from a real change), one not (the floor).
    const log = createLogger({ level: 'silent' });
    const linked: RunningAgent = await startAgent({
      listen: '127.0.0.1:0',
      dataDir: join(root, 'linked'),
      coordinator: address,
      name: 'real',
      log,
    });
    cleanups.push(() => linked.close());
    const direct: RunningAgent = await startAgent({ listen: '127.0.0.1:0', dataDir: join(root, 'direct'), name: 'direct', log });
    cleanups.push(() => direct.close());
    const linkedToggle = repoToggler(
      createClient(AgentServiceDefinition, connect(linked.address)),
      makeBenchRepo(join(root, 'repo-linked')),
    );
    const directClient = createClient(AgentServiceDefinition, connect(direct.address));
    const directToggle = repoToggler(directClient, makeBenchRepo(join(root, 'repo-direct')));
    await until(
      async () => ((await client.getAgent({ agent: 'real' }).catch(() => undefined))?.appliedRevision ?? 0) > 0 || undefined,
      'the real agent to link',
    );

    // The watchers, all from the same revision, spread over a few connections. They take
    // the bytes and look for the marker: decoding 200 copies of every change in this one
    // process would be measured as coordinator latency. One more watcher decodes everything
    // (the real agent's repo events are found by their revision).
    const arrivals = new Arrivals();
    const stopWatching = new AbortController();
    setMaxListeners(0, stopWatching.signal);
    cleanups.push(() => stopWatching.abort());
    const { revision } = await client.listAgents({ pageSize: 1 });
    const rawClients = Array.from({ length: options.watchChannels }, () => new Client(address, credentials.createInsecure()));
    cleanups.push(() => rawClients.forEach((c) => c.close()));
    const request = { fromRevision: revision, agent: '', initialSnapshot: false, kinds: [] };
    for (let i = 0; i < options.watchers; i++) {
      const stream = rawClients[i % rawClients.length]!.makeServerStreamRequest<typeof request, Buffer>(
        WATCH_PATH,
        (message) => Buffer.from(WatchRequest.encode(message).finish()),
        (bytes) => bytes,
        request,
      );
      stream.on('data', (bytes: Buffer) => {
        const marker = titleMarker(bytes);
        if (marker) arrivals.arrived(marker);
      });
      stream.on('error', () => undefined);
      cleanups.push(() => stream.cancel());
    }
    void (async () => {
      try {
        for await (const response of client.watch({ fromRevision: revision }, { signal: stopWatching.signal })) {
          const marker = markerOf(response);
          if (marker) arrivals.arrived(marker);
        }
      } catch {
        // closing
      }
    })();
    const directEvents = new AbortController();
    cleanups.push(() => directEvents.abort());
    const { revision: directRevision } = await directClient.getAgentInfo({});
    void (async () => {
      try {
        for await (const event of directClient.watchEvents({ afterRevision: directRevision }, { signal: directEvents.signal })) {
          arrivals.arrived(`direct:${event.revision}`);
        }
      } catch {
        // closing
      }
    })();

    let sent = 0;
    const rig: CoordinatorRig = {
      client,
      fleet,
      async propagate() {
        const n = sent++;
        const agent = fleet.agents[n % fleet.agents.length]!;
        const title = `bench-${n}`;
        const sentAt = performance.now();
        agent.touch(Math.floor(n / fleet.agents.length), title);
        const times = await arrivals.wait(title, options.watchers);
        return times.map((t) => t - sentAt);
      },
      async realAgentToWatcher() {
        const sentAt = performance.now();
        const agentRevision = await linkedToggle();
        const [first] = await arrivals.wait(`repo:${linked.identity.id}:${agentRevision}`, 1);
        return first! - sentAt;
      },
      async directAgentWatch() {
        const sentAt = performance.now();
        const agentRevision = await directToggle();
        const [arrived] = await arrivals.wait(`direct:${agentRevision}`, 1);
        return arrived! - sentAt;
      },
      memory: () => readMemory(child.pid!),
      syncMs,
      async storm(deadlineMs = fleetDeadlineMs(options.agents)) {
        const port = new URL(`http://${address}`).port;
        const before = await fleet.stats();
        const fleetCpu = () => fleet.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
        const fleetCpuBefore = fleetCpu();
        const killedAt = performance.now();
        await killAndWait(child);
        const next = spawnCoordinator(dataDir, `127.0.0.1:${port}`, deadlineMs);
        child = next.child;
        await next.ready;
        const restartMs = performance.now() - killedAt;
        // A fresh channel: the old one would wait out grpc-js's own reconnect backoff.
        const fresh = createClient(CoordinatorServiceDefinition, connect(address));
        rig.client = fresh;
        let synced = 0;
        let recoveryMs = Number.NaN;
        while (performance.now() - killedAt < deadlineMs) {
          synced = await projectedAgents(fresh).catch(() => synced);
          if (synced >= options.agents) {
            recoveryMs = performance.now() - killedAt;
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        const memory = readMemory(child.pid!);
        const coordinatorCpuS = cpuSeconds(child.pid!);
        const fleetCpuS = fleetCpu() - fleetCpuBefore;
        const sessions = await countSessions(fresh);
        const after = await fleet.stats();
        const welcomes = after.reduce((sum, stats, i) => sum + stats.welcomes - before[i]!.welcomes, 0);
        return {
          restartMs,
          recoveryMs,
          peakRssMb: memory.peakRssMb,
          rssMb: memory.rssMb,
          missing: options.agents - synced,
          sessions,
          neverWelcomed: after.filter((stats, i) => stats.welcomes <= before[i]!.welcomes).length,
          relinks: Math.max(0, welcomes - options.agents),
          coordinatorCpuS,
          fleetCpuS,
        };
      },
      close,
    };
    // Every watcher must be subscribed before anything is timed.
    await rig.propagate();
    return rig;
  } catch (err) {
    await close();
    throw err;
  }
}
