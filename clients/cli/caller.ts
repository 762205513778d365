import { directAgentCaller, routedAgentCaller, type AgentCaller, type RoutedAgent } from '@grove/sdk';
import type { GlobalValues } from './args.js';
import type { CliIo } from './cli-io.js';
import { withAgent, withCoordinator } from './connect.js';
import { agentTarget, coordinatorTarget, LONG_CALL_DEADLINE_MS } from './target.js';
import { UsageError } from './usage-error.js';

export type CallerValues = GlobalValues & { on?: string | undefined };

/**
 * Runs `work` with the AgentCaller the flags ask for: routed through the coordinator when
 * `--coordinator` is given (the flag, not GROVE_COORDINATOR, so where a call goes is always
 * explicit on the command line), to the agent otherwise.
 */
export async function withCaller<T>(
  values: CallerValues,
  io: CliIo,
  work: (caller: AgentCaller) => Promise<T>,
  options: { long?: boolean } = {},
): Promise<T> {
  // Work that may move many files must not be reported as failed while it still succeeds.
  const fallback = options.long ? LONG_CALL_DEADLINE_MS : undefined;
  if (values.coordinator) {
    return withCoordinator(coordinatorTarget(values, io, fallback), (coordinator) =>
      work(routedAgentCaller(coordinator, { agent: values.on })),
    );
  }
  if (values.on) throw new UsageError('--on AGENT needs --coordinator HOST:PORT: only a coordinator routes calls');
  return withAgent(agentTarget(values, io, fallback), (agent) => work(directAgentCaller(agent)));
}

/**
 * Verbs whose request names nothing that belongs to one agent (orphans, locks, syncs) would
 * otherwise run on whichever agent the coordinator picks: make the caller name it.
 */
export function requireAgentWhenRouted(verb: string, values: CallerValues, what: string): void {
  if (values.coordinator && !values.on) {
    throw new UsageError(`${verb}: ${what} belong to one agent; with --coordinator, name it with --on AGENT`);
  }
}

/** ` on agent demo-a` after a routed call, nothing after a direct one. */
export function onAgent(agent: RoutedAgent | undefined): string {
  return agent ? ` on agent ${agent.name}` : '';
}
