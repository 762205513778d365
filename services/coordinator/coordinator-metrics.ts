import { Counter, Gauge, type Registry } from 'prom-client';
import { JobState, TaskState } from '../../gen/grove/agent/v1/resources.js';
import { createMetricsRegistry, enumEntries } from '../common/metrics.js';
import type { AgentRegistry, AgentRecord } from './agents/agent-registry.js';
import type { AgentStatusName } from './agents/agent-status.js';
import { stateFacet } from './projection/projection-index.js';
import type { Projection } from './projection/projection.js';

export const COORDINATOR_METRICS_PREFIX = 'grove_coordinator';

export interface CoordinatorMetricsSources {
  registry: AgentRegistry;
  statusOf: (record: AgentRecord) => AgentStatusName;
  projection: Projection;
}

/**
 * The coordinator's Prometheus metrics. Gauges are read from the live state when scraped
 * (nothing to keep in step); counters count what leaves no state behind: cut-off watchers
 * and link joins.
 */
export class CoordinatorMetrics {
  readonly registry: Registry = createMetricsRegistry(COORDINATOR_METRICS_PREFIX);
  private readonly watchCutoffs = new Counter({
    name: `${COORDINATOR_METRICS_PREFIX}_watch_cutoffs_total`,
    help: 'Watchers ended RESOURCE_EXHAUSTED for falling more than the watch buffer behind',
    registers: [this.registry],
  });
  private readonly linkJoins = new Counter({
    name: `${COORDINATOR_METRICS_PREFIX}_link_joins_total`,
    help: 'Agent links accepted, by how the projection was brought up to date',
    labelNames: ['how'],
    registers: [this.registry],
  });

  constructor(sources: CoordinatorMetricsSources) {
    const { registry, statusOf, projection } = sources;
    new Gauge({
      name: `${COORDINATOR_METRICS_PREFIX}_agents`,
      help: 'Known agents by status',
      labelNames: ['status'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const status of ['connected', 'disconnected', 'unknown'] as const) this.set({ status }, 0);
        for (const record of registry.list()) this.inc({ status: statusOf(record) });
      },
    });
    new Gauge({
      name: `${COORDINATOR_METRICS_PREFIX}_watch_subscribers`,
      help: 'Open Watch streams',
      registers: [this.registry],
      collect() {
        this.set(projection.watchers);
      },
    });
    new Gauge({
      name: `${COORDINATOR_METRICS_PREFIX}_revision`,
      help: 'The newest revision of the change log watchers follow',
      registers: [this.registry],
      collect() {
        this.set(projection.revision);
      },
    });
    new Gauge({
      name: `${COORDINATOR_METRICS_PREFIX}_tasks`,
      help: 'Tasks in the projection of every agent, by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        for (const [name, value] of enumEntries(TaskState, 'TASK_STATE_')) {
          this.set({ state: name }, projection.index.tasks.count(stateFacet(value)));
        }
      },
    });
    new Gauge({
      name: `${COORDINATOR_METRICS_PREFIX}_jobs`,
      help: 'Repo jobs in the projection of every agent, by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        for (const [name, value] of enumEntries(JobState, 'JOB_STATE_')) {
          this.set({ state: name }, projection.index.jobs.count(stateFacet(value)));
        }
      },
    });
  }

  watchCutOff(): void {
    this.watchCutoffs.inc();
  }

  linkJoined(how: string): void {
    this.linkJoins.inc({ how });
  }
}
