/** Which capability (as users know it) an AgentService method belongs to. */
export function agentCapabilityOf(method: string): string {
  if (/Task|Lock/.test(method)) return `${method}: tasks, process supervision and locks`;
  if (/Job/.test(method)) return `${method}: durable background repo jobs`;
  if (/Sync|Stash/.test(method)) return `${method}: local sync`;
  if (/Session|Preserved|Orphan/.test(method)) return `${method}: sessions and worktree lifecycle`;
  return method;
}
