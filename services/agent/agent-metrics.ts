import { Counter, Gauge, type Registry } from 'prom-client';
import { createMetricsRegistry } from '../common/metrics.js';
import type { LinkStatus } from './agent-context.js';
import type { Store } from './store/store.js';

export const AGENT_METRICS_PREFIX = 'grove_agent';

const LINK_STATES: LinkStatus['state'][] = ['disabled', 'connecting', 'connected', 'failing'];

type Row = Record<string, string | number>;

/**
 * The agent's Prometheus metrics, all read from the database and the link status when
 * scraped: a scrape is a few grouped counts, and there is nothing to keep in step. This is a
 * read model over every table, like the snapshot; it never writes.
 */
export function createAgentMetrics(store: Store, links: LinkStatus[]): Registry {
  const registry = createMetricsRegistry(AGENT_METRICS_PREFIX);
  const grouped = (sql: string): Promise<Row[]> => store.read().execute<Row[]>(sql);
  const fromRows = (gauge: Gauge, rows: Row[], labels: string[]) => {
    gauge.reset();
    for (const row of rows) gauge.set(Object.fromEntries(labels.map((l) => [l, String(row[l]).toLowerCase()])), Number(row.n));
  };
  new Gauge({
    name: `${AGENT_METRICS_PREFIX}_tasks`,
    help: 'Tasks by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      fromRows(this, await grouped('select state, count(*) as n from task group by state'), ['state']);
    },
  });
  new Gauge({
    name: `${AGENT_METRICS_PREFIX}_running_tasks_by_activity`,
    help: 'Running tasks by what they are doing (working, needs_input, idle), as last reported',
    labelNames: ['activity'],
    registers: [registry],
    async collect() {
      const rows = await grouped(
        "select case when activity = '' then 'working' else activity end as activity, count(*) as n from task where state = 'RUNNING' group by 1",
      );
      fromRows(this, rows, ['activity']);
    },
  });
  new Gauge({
    name: `${AGENT_METRICS_PREFIX}_task_queue_depth`,
    help: 'Tasks waiting to start',
    registers: [registry],
    async collect() {
      const [row] = await grouped("select count(*) as n from task where state = 'QUEUED'");
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: `${AGENT_METRICS_PREFIX}_sessions`,
    help: 'Sessions by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      fromRows(this, await grouped('select state, count(*) as n from session group by state'), ['state']);
    },
  });
  new Gauge({
    name: `${AGENT_METRICS_PREFIX}_jobs`,
    help: 'Repo jobs by kind and state',
    labelNames: ['kind', 'state'],
    registers: [registry],
    async collect() {
      fromRows(this, await grouped('select kind, state, count(*) as n from job group by kind, state'), ['kind', 'state']);
    },
  });
  new Gauge({
    name: `${AGENT_METRICS_PREFIX}_event_log_revision`,
    help: 'The newest revision of the event log',
    registers: [registry],
    async collect() {
      const [row] = await grouped('select coalesce(max(revision), 0) as n from event');
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: `${AGENT_METRICS_PREFIX}_event_log_rows`,
    help: 'Events retained for watchers and links to resume from',
    registers: [registry],
    async collect() {
      const [row] = await grouped('select count(*) as n from event');
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: `${AGENT_METRICS_PREFIX}_link_state`,
    help: 'Coordinator links in each state (one per --coordinator address; disabled 1 when none)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const states = links.length > 0 ? links.map((link) => link.state) : ['disabled'];
      for (const state of LINK_STATES) this.set({ state }, states.filter((s) => s === state).length);
    },
  });
  new Counter({
    name: `${AGENT_METRICS_PREFIX}_link_welcomes_total`,
    help: 'Links the coordinator accepted since the agent started; more than one means reconnects',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(links.reduce((sum, link) => sum + link.welcomes, 0));
    },
  });
  return registry;
}
