import { performance } from 'node:perf_hooks';
import type { ListSessionsRequest } from '../gen/grove/coordinator/v1/coordinator_service.js';
import type { FigureBench } from './bench-case.js';
import { measureListHandler } from './coordinator-pages.js';
import { DEFAULT_RIG, startCoordinatorRig, type CoordinatorRig, type StormResult } from './coordinator-rig.js';
import type { Figure } from './report.js';
import { percentile } from './stats.js';

/**
 * The coordinator's fleet at two sizes in one run: 100 and 1,000 simulated agents (the
 * agent's real link client, in worker processes) of 100 sessions each, 200 watchers. Each
 * size measures event propagation agent → coordinator → every watcher, ListSessions pages,
 * the coordinator's memory, the initial sync, and a reconnect storm (the coordinator
 * SIGKILLed and restarted on the same data dir and port while every agent redials).
 * Every figure at 1,000 agents is reported beside the same figure at 100.
 */

export interface FleetMeasurement {
  agents: number;
  sessions: number;
  syncMs: number;
  /** Each watcher's latency for each event (ms). */
  propagation: number[];
  /** The last watcher's latency for each event (ms). */
  lastWatcher: number[];
  /** Every ListSessions page of 100, of every kind (ms). */
  pages: number[];
  /** GetAgent, interleaved with the pages: the unary floor (ms). */
  unary: number[];
  /** The ListSessions handler alone, in this process, over as many sessions (ms). */
  handlerPages: number[];
  loadedRssMb: number;
  peakRssMb: number;
  storm: StormResult;
  totalMs: number;
}

export interface FleetCounts {
  events: number;
  pageRounds: number;
}

const DEFAULT_COUNTS: FleetCounts = { events: 300, pageRounds: 200 };

/** Pages of 100 of five kinds: first, half-way through, by agent, by label, descending. */
async function pageRequests(rig: CoordinatorRig): Promise<Array<Partial<ListSessionsRequest>>> {
  let token = '';
  const half = (rig.fleet.agents.length * DEFAULT_RIG.sessionsPerAgent) / 200;
  for (let i = 0; i < half; i++) token = (await rig.client.listSessions({ pageSize: 100, pageToken: token })).nextPageToken;
  return [
    { pageSize: 100 },
    { pageSize: 100, pageToken: token },
    { pageSize: 100, agent: rig.fleet.agents[42]!.name },
    { pageSize: 100, labelSelector: 'team=t3' },
    { pageSize: 100, orderBy: 'id desc' },
  ];
}

async function timed(call: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await call();
  return performance.now() - start;
}

/** One size: start the rig, measure, storm, close. */
export async function measureFleet(agents: number, counts: FleetCounts = DEFAULT_COUNTS): Promise<FleetMeasurement> {
  const started = performance.now();
  const rig = await startCoordinatorRig({ ...DEFAULT_RIG, agents });
  try {
    const loaded = rig.memory();
    const propagation: number[] = [];
    const lastWatcher: number[] = [];
    for (let i = 0; i < counts.events; i++) {
      const latencies = await rig.propagate();
      propagation.push(...latencies);
      lastWatcher.push(Math.max(...latencies));
    }
    const requests = await pageRequests(rig);
    const pages: number[] = [];
    const unary: number[] = [];
    const floorAgent = rig.fleet.agents[0]!.name;
    for (let round = 0; round < counts.pageRounds; round++) {
      unary.push(await timed(() => rig.client.getAgent({ agent: floorAgent })));
      for (const request of requests) {
        pages.push(
          await timed(async () => {
            const { sessions } = await rig.client.listSessions(request);
            if (sessions.length !== 100) throw new Error(`a page held ${sessions.length} sessions, not 100`);
          }),
        );
      }
    }
    const { peakRssMb } = rig.memory();
    const storm = await rig.storm();
    await rig.close();
    // After the rig: the handler's own cost must not share the machine with the fleet.
    const handler = await measureListHandler(agents, DEFAULT_RIG.sessionsPerAgent, counts.pageRounds);
    return {
      agents,
      sessions: agents * DEFAULT_RIG.sessionsPerAgent,
      syncMs: rig.syncMs,
      propagation,
      lastWatcher,
      pages,
      unary,
      handlerPages: [...handler.values()].flat(),
      loadedRssMb: loaded.rssMb,
      peakRssMb,
      storm,
      totalMs: performance.now() - started,
    };
  } finally {
    await rig.close();
  }
}

const p = (values: readonly number[], at: number) =>
  percentile(
    [...values].sort((a, b) => a - b),
    at,
  );
const RSS_LIMIT_MB = 1536;
const PROPAGATION_P99_MS = 50;
const PAGE_P99_MS = 5;
const RECOVERY_S = 30;

/** The figures of `big` beside those of `small`; targets apply to `big`. */
export function fleetFigures(small: FleetMeasurement, big: FleetMeasurement): Figure[] {
  const at = (m: FleetMeasurement) => `${m.agents.toLocaleString('en-US')} agents`;
  const figure = (
    name: string,
    unit: Figure['unit'],
    of: (m: FleetMeasurement) => number,
    target?: { text: string; met: (value: number) => boolean },
  ): Figure => {
    const baseline = of(small);
    const value = of(big);
    return {
      bench: 'coordinator-fleet',
      name,
      unit,
      baselineAt: at(small),
      baseline,
      valueAt: at(big),
      value,
      ratio: baseline === 0 ? Number.NaN : value / baseline,
      ...(target ? { target: target.text, verdict: target.met(value) ? ('PASS' as const) : ('MISS' as const) } : {}),
    };
  };
  const { watchers } = DEFAULT_RIG;
  return [
    figure('initial sync of every agent', 's', (m) => m.syncMs / 1000),
    figure(`propagation agent -> coordinator -> each of ${watchers} watchers, p50`, 'ms', (m) => p(m.propagation, 50)),
    figure(`propagation agent -> coordinator -> each of ${watchers} watchers, p99`, 'ms', (m) => p(m.propagation, 99), {
      text: `<= ${PROPAGATION_P99_MS} ms`,
      met: (v) => v <= PROPAGATION_P99_MS,
    }),
    figure(`propagation to the last of ${watchers} watchers, p99`, 'ms', (m) => p(m.lastWatcher, 99)),
    figure('ListSessions page of 100 (5 kinds), p50', 'ms', (m) => p(m.pages, 50)),
    figure('ListSessions page of 100 (5 kinds), p99', 'ms', (m) => p(m.pages, 99), {
      text: `<= ${PAGE_P99_MS} ms`,
      met: (v) => v <= PAGE_P99_MS,
    }),
    figure('GetAgent interleaved with the pages (unary floor), p99', 'ms', (m) => p(m.unary, 99)),
    figure('ListSessions handler alone, no gRPC (4 kinds), p99', 'ms', (m) => p(m.handlerPages, 99), {
      text: `<= ${PAGE_P99_MS} ms`,
      met: (v) => v <= PAGE_P99_MS,
    }),
    figure('coordinator RSS after the initial sync', 'MB', (m) => m.loadedRssMb, {
      text: `<= ${RSS_LIMIT_MB} MB`,
      met: (v) => v <= RSS_LIMIT_MB,
    }),
    figure('coordinator peak RSS before the storm (VmHWM)', 'MB', (m) => m.peakRssMb, {
      text: `<= ${RSS_LIMIT_MB} MB`,
      met: (v) => v <= RSS_LIMIT_MB,
    }),
    figure('storm: SIGKILL -> new coordinator ready', 's', (m) => m.storm.restartMs / 1000),
    figure('storm: SIGKILL -> projection complete again', 's', (m) => m.storm.recoveryMs / 1000, {
      text: `<= ${RECOVERY_S} s`,
      met: (v) => v <= RECOVERY_S,
    }),
    figure('storm: new coordinator peak RSS (VmHWM)', 'MB', (m) => m.storm.peakRssMb, {
      text: `<= ${RSS_LIMIT_MB} MB`,
      met: (v) => v <= RSS_LIMIT_MB,
    }),
    figure('storm: agents not back by the deadline (refused for good)', 'count', (m) => m.storm.missing, {
      text: '= 0',
      met: (v) => v === 0,
    }),
    figure('storm: sessions listed afterwards', 'count', (m) => m.storm.sessions, {
      text: `= ${big.sessions.toLocaleString('en-US')}`,
      met: (v) => v === big.sessions,
    }),
  ];
}

export const coordinatorFleetBench: FigureBench = {
  name: 'coordinator-fleet',
  async figures() {
    const small = await measureFleet(100);
    const big = await measureFleet(1000);
    for (const m of [small, big]) {
      process.stderr.write(
        `coordinator-fleet: ${m.agents} agents measured in ${(m.totalMs / 1000).toFixed(1)} s ` +
          `(storm: ${m.storm.neverWelcomed} agents never welcomed by the new coordinator)\n`,
      );
    }
    return fleetFigures(small, big);
  },
};
