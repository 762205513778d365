import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { ListSessionsRequest } from '../gen/grove/coordinator/v1/coordinator_service.js';
import type { Bench } from './bench-case.js';
import { measureListHandler } from './coordinator-pages.js';
import { DEFAULT_RIG, fleetDeadlineMs, startCoordinatorRig, type CoordinatorRig, type Memory, type RigOptions } from './coordinator-rig.js';
import { percentile } from './stats.js';

/**
 * The coordinator at fleet scale: 100 simulated agents (real link streams) of 100 sessions
 * each, 200 watchers. Measures how long a change takes from an agent's link to every
 * watcher, what a page of ListSessions over the 10,000 sessions costs, and the
 * coordinator's memory; beside them, the floor: a real agent's own WatchEvents.
 *
 * Two ways to run it: as a case list for `bench/run.ts` (`coordinatorBench`), or on its own
 * with absolute targets — `node dist/bench/coordinator.js` — which also reports memory.
 */

type PageKind = 'first' | 'deep' | 'by agent' | 'by label' | 'descending';

/** A ListSessions page of 100 of each kind; `deep` starts half-way through. */
async function pageRequests(rig: CoordinatorRig): Promise<Record<PageKind, Partial<ListSessionsRequest>>> {
  let token = '';
  for (let i = 0; i < 50; i++) token = (await rig.client.listSessions({ pageSize: 100, pageToken: token })).nextPageToken;
  return {
    first: { pageSize: 100 },
    deep: { pageSize: 100, pageToken: token },
    'by agent': { pageSize: 100, agent: rig.fleet.agents[42]!.name },
    'by label': { pageSize: 100, labelSelector: 'team=t3' },
    descending: { pageSize: 100, orderBy: 'id desc' },
  };
}

async function timePage(rig: CoordinatorRig, request: Partial<ListSessionsRequest>): Promise<number> {
  const start = performance.now();
  const { sessions } = await rig.client.listSessions(request);
  const elapsed = performance.now() - start;
  if (sessions.length !== 100) throw new Error(`a page held ${sessions.length} sessions, not 100`);
  return elapsed;
}

async function timeUnary(rig: CoordinatorRig): Promise<number> {
  const start = performance.now();
  await rig.client.getAgent({ agent: rig.fleet.agents[0]!.name });
  return performance.now() - start;
}

/** For bench/run.ts: each call is one measured operation; the floor is the baseline. */
export const coordinatorBench: Bench = {
  name: 'coordinator',
  // A change fans out to 200 streams and an AddRepo runs git: fewer calls than a ping.
  options: { calls: 300, warmupCalls: 20, rounds: 5 },
  async setup() {
    const rig = await startCoordinatorRig();
    const pages = await pageRequests(rig);
    return {
      baseline: { name: 'agent WatchEvents: AddRepo -> subscriber (floor)', call: () => rig.directAgentWatch() },
      cases: [
        { name: 'GetAgent (the unary floor under a page)', call: () => timeUnary(rig) },
        { name: `Watch: link event -> all ${DEFAULT_RIG.watchers} watchers`, call: () => rig.propagate() },
        { name: 'Watch: AddRepo on a linked agent -> watcher', call: () => rig.realAgentToWatcher() },
        { name: 'ListSessions: first page of 100 of 10,000', call: () => timePage(rig, pages.first) },
        { name: 'ListSessions: page 51 of 100', call: () => timePage(rig, pages.deep) },
        { name: 'ListSessions: page filtered by agent', call: () => timePage(rig, pages['by agent']) },
      ],
      // The targets are absolute (see the standalone run), not ratios to the floor.
      targeted: new Set<string>(),
      targetRatio: 1,
      teardown: () => rig.close(),
    };
  },
};

interface Row {
  name: string;
  samples: number;
  p50: number;
  p99: number;
  unit: 'ms' | 'MB';
  target?: string;
  verdict?: 'PASS' | 'MISS';
}

function latencyRow(name: string, samples: number[], target?: { at: 'p50' | 'p99'; ms: number }): Row {
  const sorted = [...samples].sort((a, b) => a - b);
  const row: Row = { name, samples: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), unit: 'ms' };
  if (target) {
    row.target = `${target.at} <= ${target.ms} ms`;
    row.verdict = row[target.at] <= target.ms ? 'PASS' : 'MISS';
  }
  return row;
}

function formatRows(rows: Row[]): string {
  const table = [
    ['CASE', 'SAMPLES', 'P50', 'P99', 'TARGET'],
    ...rows.map((r) => [
      r.name,
      String(r.samples),
      `${r.p50.toFixed(r.unit === 'MB' ? 0 : 2)} ${r.unit}`,
      `${r.p99.toFixed(r.unit === 'MB' ? 0 : 2)} ${r.unit}`,
      r.target ? `${r.target} ${r.verdict}` : '',
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  return table
    .map((r) =>
      r
        .map((cell, i) => (i >= 1 && i <= 3 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The standalone run: fixed counts, absolute targets, memory; well under a minute. */
export async function runCoordinatorBench(
  counts = { events: 300, realEvents: 100, pages: 200 },
  rigOptions: RigOptions = DEFAULT_RIG,
): Promise<{ rows: Row[]; setupMs: number; totalMs: number }> {
  const started = performance.now();
  const rig = await startCoordinatorRig(rigOptions);
  try {
    const loaded: Memory = rig.memory();
    const setupMs = performance.now() - started;

    const propagation: number[] = [];
    const lastWatcher: number[] = [];
    for (let i = 0; i < counts.events; i++) {
      const latencies = await rig.propagate();
      propagation.push(...latencies);
      lastWatcher.push(Math.max(...latencies));
    }
    const real: number[] = [];
    const floor: number[] = [];
    for (let i = 0; i < counts.realEvents; i++) {
      real.push(await rig.realAgentToWatcher());
      floor.push(await rig.directAgentWatch());
    }
    const pages = await pageRequests(rig);
    const pageTimes = new Map<PageKind, number[]>();
    // The floor under any page: the cheapest unary call there is, interleaved with them.
    const unaryFloor: number[] = [];
    for (let i = 0; i < counts.pages; i++) {
      unaryFloor.push(await timeUnary(rig));
      for (const [kind, request] of Object.entries(pages) as Array<[PageKind, Partial<ListSessionsRequest>]>) {
        const times = pageTimes.get(kind) ?? [];
        times.push(await timePage(rig, request));
        pageTimes.set(kind, times);
      }
    }
    const after = rig.memory();
    const { agents, sessionsPerAgent, watchers } = rigOptions;
    const rows: Row[] = [
      latencyRow(`agent WatchEvents: AddRepo -> subscriber (floor)`, floor),
      latencyRow(`Watch: link event -> each of ${watchers} watchers`, propagation, { at: 'p99', ms: 20 }),
      latencyRow(`Watch: link event -> last of ${watchers} watchers`, lastWatcher),
      latencyRow('Watch: AddRepo on a linked agent -> a watcher', real),
      latencyRow('GetAgent (the unary floor under a page)', unaryFloor),
      // A page's own cost is its median; its p99 is the p99 of any unary call on this machine
      // (the row above), which the handler-only rows below show the page does not add to.
      ...[...pageTimes].map(([kind, times]) =>
        latencyRow(`ListSessions page of 100 of ${agents * sessionsPerAgent}: ${kind}`, times, { at: 'p50', ms: 5 }),
      ),
      { name: 'coordinator RSS after the snapshots (VmRSS)', samples: 1, p50: loaded.rssMb, p99: loaded.rssMb, unit: 'MB' },
      {
        name: `coordinator RSS at the end (VmRSS / peak VmHWM)`,
        samples: 1,
        p50: after.rssMb,
        p99: after.peakRssMb,
        unit: 'MB',
        target: 'peak <= 300 MB',
        verdict: after.peakRssMb <= 300 ? 'PASS' : 'MISS',
      },
    ];
    // The handler alone, in this process: the same page at 10,000 and at 50,000 sessions.
    for (const perAgent of [sessionsPerAgent, sessionsPerAgent * 5]) {
      const handler = await measureListHandler(agents, perAgent, counts.pages);
      for (const [kind, times] of handler) {
        rows.push(latencyRow(`ListSessions handler only, ${agents * perAgent} sessions: ${kind}`, times));
      }
    }
    return { rows, setupMs, totalMs: performance.now() - started };
  } finally {
    await rig.close();
  }
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, agents: { type: 'string', default: String(DEFAULT_RIG.agents) } } });
  const agents = Number(values.agents);
  if (!Number.isInteger(agents) || agents <= 0) throw new Error(`--agents must be a positive integer, got "${values.agents}"`);
  // Bounded, so a wedged run cannot hang CI, but in proportion to the fleet (its sync alone
  // takes ~20 s at 1,000 agents). process.exit runs child-processes.ts's exit hook, which
  // kills the coordinator and the fleet workers.
  const limitMs = 60_000 + 2 * fleetDeadlineMs(agents);
  const guard = setTimeout(() => {
    process.stderr.write(`coordinator bench: over ${limitMs / 1000} s, giving up\n`);
    process.exit(2);
  }, limitMs);
  guard.unref();
  const { rows, setupMs, totalMs } = await runCoordinatorBench(undefined, { ...DEFAULT_RIG, agents });
  process.stdout.write(`${formatRows(rows)}\n\nsetup ${(setupMs / 1000).toFixed(1)} s, total ${(totalMs / 1000).toFixed(1)} s\n`);
  if (values.out)
    writeFileSync(values.out, `${JSON.stringify({ time: new Date().toISOString(), node: process.version, rows }, null, 2)}\n`);
  process.exit(0);
}
