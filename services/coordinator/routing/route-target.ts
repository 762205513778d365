import { failedPrecondition, invalidArgument, notFound, resourceExhausted, unavailable } from '../../common/errors.js';
import { matchesLabels } from '../../common/paging.js';
import type { AgentStatusName } from '../agents/agent-status.js';
import type { OwnedKind, RouteKeys } from '../../../wire/agent-methods.js';
import type { GroveReason } from '../../../wire/reasons.js';

/** An agent as routing weighs it. */
export interface RouteCandidate {
  id: string;
  name: string;
  labels: Record<string, string>;
  status: AgentStatusName;
  lastSeen: Date | undefined;
  runningTasks: number;
  /** Its --max-running-tasks (0: no bound). */
  maxRunningTasks: number;
  /** Has a repo with this id or name (as projected). */
  hasRepo(idOrName: string): boolean;
}

/** What the caller asked for, besides the request's own ids. */
export interface RouteAsk {
  /** Agent id or name; empty to let ids or the selector decide. */
  agent: string;
  labels: Record<string, string>;
  /** Repos the agent must have (has_repo). */
  repos: string[];
}

/** The agents owning each projected resource with this id (one, normally). */
export type OwnerLookup = (kind: OwnedKind, id: string) => readonly string[];

export interface ResolvedKeys {
  /** Agents owning the resources the request names; empty when it names none. */
  owners: string[];
  /** Repo references that are not ids of projected repos: names, to narrow the choice. */
  repoNames: string[];
  needsAgent?: string | undefined;
}

const NOT_FOUND_REASON: Record<OwnedKind, GroveReason> = {
  session: 'SESSION_NOT_FOUND',
  task: 'TASK_NOT_FOUND',
  job: 'JOB_NOT_FOUND',
  repo: 'REPO_NOT_FOUND',
  lock: 'LOCK_NOT_FOUND',
};

/** Finds who owns what the request names; NOT_FOUND for an id no agent reports. */
export function resolveKeys(keys: RouteKeys, lookup: OwnerLookup): ResolvedKeys {
  const owners = new Set<string>();
  for (const { kind, id } of keys.owned) {
    const found = lookup(kind, id);
    if (found.length === 0) throw notFound(NOT_FOUND_REASON[kind], `no agent reports a ${kind} "${id}"`);
    for (const owner of found) owners.add(owner);
  }
  const repoNames: string[] = [];
  for (const ref of keys.repos) {
    const found = lookup('repo', ref);
    if (found.length === 0) repoNames.push(ref);
    for (const owner of found) owners.add(owner);
  }
  return { owners: [...owners], repoNames, needsAgent: keys.needsAgent };
}

const describeAsk = (ask: RouteAsk): string => {
  const parts = [...Object.entries(ask.labels).map(([k, v]) => `label ${k}=${v}`), ...ask.repos.map((repo) => `repo "${repo}"`)];
  return parts.length > 0 ? parts.join(', ') : 'no constraints';
};

function matches(candidate: RouteCandidate, ask: RouteAsk): boolean {
  return matchesLabels(candidate.labels, ask.labels) && ask.repos.every((repo) => candidate.hasRepo(repo));
}

function mustBeConnected(candidate: RouteCandidate): RouteCandidate {
  if (candidate.status === 'connected') return candidate;
  const seen = candidate.lastSeen ? `last seen ${candidate.lastSeen.toISOString()}` : 'never seen';
  throw unavailable(
    'AGENT_NOT_CONNECTED',
    `agent ${candidate.name} (${candidate.id}) is ${candidate.status.toUpperCase()} (${seen}); nothing was sent`,
  );
}

/** Fewest running tasks, then name, then id: a stable, explainable choice. */
export function byLoad(a: RouteCandidate, b: RouteCandidate): number {
  if (a.runningTasks !== b.runningTasks) return a.runningTasks - b.runningTasks;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Picks the agent a routed call runs on; throws the GroveError the caller gets otherwise.
 * Pure: candidates come with their status and load already derived.
 *
 * 1. A named agent (id, else a unique name) runs it, if it matches the selector. Its own
 *    view of the ids is the truth, so the projection's owners are not consulted.
 * 2. Else the agent owning the ids the request names runs it: they must all be one agent's.
 * 3. Else the connected agent matching the selector, and having the repos the request
 *    names, with the fewest running tasks.
 * In 1 and 2 the request's repo names are left for the agent to judge: it answers for itself.
 * The agent chosen must be connected: UNAVAILABLE at once otherwise, nothing is sent.
 */
export function chooseAgent(candidates: readonly RouteCandidate[], ask: RouteAsk, resolved: ResolvedKeys): RouteCandidate {
  if (ask.agent) {
    const byId = candidates.filter((c) => c.id === ask.agent);
    const named = byId.length > 0 ? byId : candidates.filter((c) => c.name === ask.agent);
    const [agent] = named;
    if (!agent) throw notFound('AGENT_NOT_FOUND', `no agent "${ask.agent}" has ever linked to this coordinator`);
    if (named.length > 1) {
      throw failedPrecondition(
        'AMBIGUOUS_AGENT_NAME',
        `${named.length} agents are named "${ask.agent}"; use an id: ${named.map((c) => c.id).join(', ')}`,
      );
    }
    if (!matches(agent, ask)) {
      throw failedPrecondition('AGENT_DOES_NOT_MATCH', `agent ${agent.name} does not match the selector (${describeAsk(ask)})`);
    }
    return mustBeConnected(agent);
  }

  if (resolved.owners.length > 1) {
    throw failedPrecondition(
      'SPANS_AGENTS',
      `the request names resources of ${resolved.owners.length} agents (${resolved.owners.join(', ')}); send one per agent`,
    );
  }
  const [owner] = resolved.owners;
  if (owner !== undefined) {
    const agent = candidates.find((c) => c.id === owner);
    // The projection only holds agents that linked, so the registry knows every owner.
    if (!agent) throw notFound('AGENT_NOT_FOUND', `agent ${owner} is not registered`);
    if (!matches(agent, ask)) {
      throw failedPrecondition(
        'AGENT_DOES_NOT_MATCH',
        `the resources named belong to agent ${agent.name}, which does not match the selector (${describeAsk(ask)})`,
      );
    }
    return mustBeConnected(agent);
  }

  if (resolved.needsAgent && Object.keys(ask.labels).length === 0 && ask.repos.length === 0) {
    throw invalidArgument('AGENT_REQUIRED', `name the agent (or a selector): ${resolved.needsAgent}`);
  }
  const narrowed: RouteAsk = { ...ask, repos: [...new Set([...ask.repos, ...resolved.repoNames])] };
  const matching = candidates.filter((c) => matches(c, narrowed));
  if (matching.length === 0) {
    throw failedPrecondition('NO_MATCHING_AGENT', `no agent matches the selector (${describeAsk(narrowed)})`);
  }
  const connected = matching.filter((c) => c.status === 'connected');
  if (connected.length === 0) {
    const states = matching.map((c) => `${c.name}: ${c.status.toUpperCase()}`).join(', ');
    throw unavailable('AGENT_NOT_CONNECTED', `no agent matching the selector (${describeAsk(narrowed)}) is connected (${states})`);
  }
  const withRoom = connected.filter((c) => !isFull(c));
  if (withRoom.length === 0) {
    const loads = connected.map((c) => `${c.name}: ${c.runningTasks}/${c.maxRunningTasks} running`).join(', ');
    throw resourceExhausted('AGENTS_FULL', `every agent matching the selector (${describeAsk(narrowed)}) is full (${loads})`);
  }
  return [...withRoom].sort(byLoad)[0]!;
}

/** Running as many tasks as its --max-running-tasks allows: selectors pass it by. */
export const isFull = (c: RouteCandidate): boolean => c.maxRunningTasks > 0 && c.runningTasks >= c.maxRunningTasks;
