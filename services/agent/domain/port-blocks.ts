/** `--port-range FIRST-LAST` cut in blocks of `perSession` consecutive ports. */
export interface PortPlan {
  first: number;
  last: number;
  perSession: number;
}

/**
 * The lowest block no held session uses, or undefined when every block is taken. A block is
 * held by a session with a worktree on disk; a stopped or archived session's ports are free,
 * so ports are reused only once the session that had them was removed.
 */
export function freeBlock(plan: PortPlan, held: ReadonlyArray<readonly number[]>): number[] | undefined {
  const taken = new Set(held.flat());
  for (let start = plan.first; start + plan.perSession - 1 <= plan.last; start += plan.perSession) {
    const block = Array.from({ length: plan.perSession }, (_, i) => start + i);
    if (block.every((port) => !taken.has(port))) return block;
  }
  return undefined;
}

/** Parses `--port-range 20000-20999`; the problem as text when it is not a usable range. */
export function parsePortRange(text: string): { first: number; last: number } | string {
  const match = /^(\d+)-(\d+)$/.exec(text.trim());
  if (!match) return `takes FIRST-LAST, like 20000-20999, not "${text}"`;
  const [first, last] = [Number(match[1]), Number(match[2])];
  if (first < 1024 || last > 65535) return 'must lie within 1024-65535';
  if (first > last) return `starts after it ends (${first} > ${last})`;
  return { first, last };
}

/** The environment a task sees: GROVE_PORT (the first) and GROVE_PORT_1..K. */
export function portEnvironment(ports: readonly number[]): Record<string, string> {
  if (ports.length === 0) return {};
  return Object.fromEntries([['GROVE_PORT', String(ports[0])], ...ports.map((port, i) => [`GROVE_PORT_${i + 1}`, String(port)])]);
}
