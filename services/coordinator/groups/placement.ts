import { failedPrecondition } from '../../common/errors.js';
import { byLoad, isFull, type RouteAsk, type RouteCandidate } from '../routing/route-target.js';
import { matchesLabels } from '../../common/paging.js';

/**
 * Where each of `count` members goes. The agents that may take one are connected, match the
 * selector and have every repo. Without `spread` all go to the least loaded of them (one
 * machine, as a single routed call would choose). A full agent (at its --max-running-tasks)
 * takes none. With `spread`, each goes to the agent with
 * the fewest members of this group so far, then the fewest running tasks: distinct agents
 * while there are enough, then the least loaded again.
 */
export function placeMembers(candidates: readonly RouteCandidate[], count: number, spread: boolean, ask: RouteAsk): RouteCandidate[] {
  const eligible = candidates.filter(
    (c) => c.status === 'connected' && !isFull(c) && matchesLabels(c.labels, ask.labels) && ask.repos.every((repo) => c.hasRepo(repo)),
  );
  if (eligible.length === 0) {
    const wanted = [...Object.entries(ask.labels).map(([k, v]) => `${k}=${v}`), ...ask.repos.map((r) => `repo ${r}`)].join(', ');
    throw failedPrecondition('NO_MATCHING_AGENT', `no connected agent with room for a task matches ${wanted || 'the request'}`);
  }
  if (!spread) return Array.from({ length: count }, () => [...eligible].sort(byLoad)[0]!);
  const given = new Map<string, number>();
  const placed: RouteCandidate[] = [];
  for (let i = 0; i < count; i++) {
    const next = [...eligible].sort((a, b) => (given.get(a.id) ?? 0) - (given.get(b.id) ?? 0) || byLoad(a, b))[0]!;
    given.set(next.id, (given.get(next.id) ?? 0) + 1);
    placed.push(next);
  }
  return placed;
}
