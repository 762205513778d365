import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Bench, FigureBench } from './bench-case.js';
import { measureInterleaved } from './measure.js';
import { formatFigures, formatReport, writeReport, type BenchReport, type Figure, type ResultRow } from './report.js';
import { cliStartupBench } from './cli-startup.js';
import { coordinatorBench } from './coordinator.js';
import { coordinatorFleetBench } from './coordinator-scale.js';
import { jobDrainBench, jobSubmitBench } from './jobs.js';
import { landBench } from './land.js';
import { recoveryBench } from './recovery.js';
import { sdkUnaryBench } from './sdk-unary.js';
import { sessionCreateBench } from './session-create.js';
import { taskStartBench } from './task-start.js';
import { terminalEchoBench } from './terminal-echo.js';
import { webLatencyBench } from './web-latency.js';
import { summarize } from './stats.js';

/** Every benchmark `make bench` runs; a new one is a file in bench/ and a line here. */
const BENCHES: readonly Bench[] = [
  sdkUnaryBench,
  cliStartupBench,
  sessionCreateBench,
  taskStartBench,
  recoveryBench,
  jobSubmitBench,
  jobDrainBench,
  coordinatorBench,
  terminalEchoBench,
  landBench,
  webLatencyBench,
];

/** Benchmarks of absolute figures at two sizes (run after the others: the fleet is the heaviest). */
const FIGURE_BENCHES: readonly FigureBench[] = [coordinatorFleetBench];

// Compiled to dist/bench/run.js: results go to bench/results/ at the repository root.
const RESULTS = fileURLToPath(new URL('../../bench/results/latest.json', import.meta.url));

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '20' },
    out: { type: 'string', default: RESULTS },
    // One benchmark by name (e.g. --only terminal-echo); all of them by default.
    only: { type: 'string' },
  },
});
const chosen = values.only ? BENCHES.filter((b) => b.name === values.only) : BENCHES;
const chosenFigures = values.only ? FIGURE_BENCHES.filter((b) => b.name === values.only) : FIGURE_BENCHES;
if (chosen.length + chosenFigures.length === 0) {
  const names = [...BENCHES, ...FIGURE_BENCHES].map((b) => b.name).join(', ');
  throw new Error(`--only ${values.only}: no such benchmark (${names})`);
}
function positiveInteger(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer, got "${text}"`);
  return value;
}
const options = {
  calls: positiveInteger('calls', values.calls),
  warmupCalls: positiveInteger('warmup', values.warmup),
  rounds: positiveInteger('rounds', values.rounds),
};

const rows: ResultRow[] = [];
for (const bench of chosen) {
  const setup = await bench.setup();
  try {
    const cases = [setup.baseline, ...setup.cases];
    const durations = await measureInterleaved(cases, { ...options, ...bench.options });
    const baseline = summarize(durations.get(setup.baseline.name) ?? []);
    for (const c of cases) {
      const summary = summarize(durations.get(c.name) ?? []);
      const ratio = summary.medianUs / baseline.medianUs;
      const targeted = setup.targeted.has(c.name);
      rows.push({
        bench: bench.name,
        name: c.name,
        ...summary,
        ratio,
        ...(targeted ? { target: setup.targetRatio, verdict: ratio <= setup.targetRatio ? 'PASS' : 'MISS' } : {}),
      });
    }
  } finally {
    await setup.teardown();
  }
}

const figures: Figure[] = [];
for (const bench of chosenFigures) figures.push(...(await bench.figures()));

const report: BenchReport = {
  time: new Date().toISOString(),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  calls: options.calls,
  rows,
  ...(figures.length > 0 ? { figures } : {}),
};
writeReport(values.out, report);
// A MISS is information for people, not a failure: the exit status stays 0 either way.
const tables = [rows.length > 0 ? formatReport(report) : '', figures.length > 0 ? formatFigures(figures) : ''].filter(Boolean);
process.stdout.write(`${tables.join('\n\n')}\n\nresults written to ${values.out}\n`);
// Nothing a bench started may outlive it (child-processes.ts kills what is left on exit).
process.exit(0);
