import type { AgentCaller, CoordinatorClient, RoutedAgent } from '@grove/sdk';
import { allPages } from './pages.js';

/** Resources carry ids; tables show names. Both lookups fall back to the id itself. */
export type Names = (id: string) => string;

const lookup =
  (names: ReadonlyMap<string, string>): Names =>
  (id) =>
    id ? (names.get(id) ?? id) : '-';

/** Agent id → name, as the coordinator knows them. */
export async function agentNames(coordinator: CoordinatorClient): Promise<Names> {
  const { items } = await allPages(
    (pageToken) => coordinator.listAgents({ pageToken }),
    (page) => page.agents,
  );
  return lookup(new Map(items.map((agent) => [agent.id, agent.name])));
}

/**
 * Repo id → name: the agent's repos on a direct call, the answering agent's when a routed
 * call said which (`agent`), otherwise every agent's as the coordinator projects them.
 */
export async function repoNames(caller: AgentCaller, agent?: RoutedAgent): Promise<Names> {
  if (caller.kind === 'routed' && !agent && !caller.target.agent) {
    const { coordinator } = caller;
    const { items } = await allPages(
      (pageToken) => coordinator.listRepos({ pageToken }),
      (page) => page.repos,
    );
    return lookup(new Map(items.flatMap(({ repo }) => (repo ? [[repo.id, repo.name] as const] : []))));
  }
  const target = agent ? { agent: agent.id } : {};
  const { items } = await allPages(
    async (pageToken) => (await caller.call('listRepos', { pageToken }, target)).response,
    (page) => page.repos,
  );
  return lookup(new Map(items.map((repo) => [repo.id, repo.name])));
}
