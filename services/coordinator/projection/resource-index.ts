import { SortedKeys } from './sorted-keys.js';

/** Where an indexed resource lives: the owning agent's projection holds the value. */
export interface IndexedRef {
  /** Sort key: the resource id, then the agent id (ids are agent-made; two agents could clash). */
  key: string;
  agentId: string;
  id: string;
}

/**
 * A filter as the index understands it: every group must match (AND), and a group matches
 * when the resource carries any one of its facets (OR). An empty group matches nothing.
 */
export type FacetFilter = readonly (readonly string[])[];

export interface ScanOptions {
  filter?: FacetFilter | undefined;
  /** Start strictly after this key (strictly before it when descending). */
  cursor?: string | undefined;
  descending?: boolean | undefined;
}

interface Entry {
  agentId: string;
  id: string;
  facets: string[];
}

export const agentFacet = (agentId: string): string => `agent:${agentId}`;

/**
 * One kind of resource across every agent, kept sorted by id, with a sorted set per facet
 * (`agent:<id>`, `state:<n>`, `label:<k>=<v>`, ...) maintained as events arrive. A page is
 * served by seeking to the page token in the smallest set the filter allows and walking from
 * there, so its cost grows with the page (and how selective the filter is), never with the
 * number of resources or agents.
 */
export class ResourceIndex<T> {
  private readonly all = new SortedKeys();
  private readonly facets = new Map<string, SortedKeys>();
  private readonly entries = new Map<string, Entry>();
  private readonly owners = new Map<string, string[]>();

  /** `facetsOf` names what a resource can be filtered by; the agent facet is added here. */
  constructor(private readonly facetsOf: (item: T, agentId: string) => string[]) {}

  static keyOf(agentId: string, id: string): string {
    return `${id}\u0000${agentId}`;
  }

  get size(): number {
    return this.all.size;
  }

  /** How many resources carry `facet`. */
  count(facet: string): number {
    return this.facets.get(facet)?.size ?? 0;
  }

  /** The agents reporting a resource with this id: one, normally. */
  ownersOf(id: string): readonly string[] {
    return this.owners.get(id) ?? [];
  }

  put(agentId: string, id: string, item: T): void {
    const key = ResourceIndex.keyOf(agentId, id);
    const facets = [agentFacet(agentId), ...new Set(this.facetsOf(item, agentId))];
    const previous = this.entries.get(key);
    if (previous) {
      for (const facet of previous.facets) {
        if (!facets.includes(facet)) this.dropFromFacet(facet, key);
      }
    } else {
      this.all.add(key);
      this.owners.set(id, [...(this.owners.get(id) ?? []), agentId]);
    }
    for (const facet of facets) {
      if (previous?.facets.includes(facet)) continue;
      let set = this.facets.get(facet);
      if (!set) this.facets.set(facet, (set = new SortedKeys()));
      set.add(key);
    }
    this.entries.set(key, { agentId, id, facets });
  }

  remove(agentId: string, id: string): void {
    const key = ResourceIndex.keyOf(agentId, id);
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.all.delete(key);
    for (const facet of entry.facets) this.dropFromFacet(facet, key);
    const owners = (this.owners.get(id) ?? []).filter((owner) => owner !== agentId);
    if (owners.length > 0) this.owners.set(id, owners);
    else this.owners.delete(id);
  }

  private dropFromFacet(facet: string, key: string): void {
    const set = this.facets.get(facet);
    set?.delete(key);
    // Facets come and go with labels and states; empty sets would pile up.
    if (set?.size === 0) this.facets.delete(facet);
  }

  /** Resources matching `filter`, in key order from the cursor. Lazy: take what a page needs. */
  *scan(options: ScanOptions = {}): Generator<IndexedRef> {
    const filter = options.filter ?? [];
    if (filter.some((group) => group.length === 0)) return;
    // Walk the group with the fewest members; the other groups are checked per entry.
    let driving: readonly string[] | undefined;
    let drivingSize = Infinity;
    for (const group of filter) {
      const size = group.reduce((sum, facet) => sum + this.count(facet), 0);
      if (size < drivingSize) [driving, drivingSize] = [group, size];
    }
    const sources = driving
      ? driving.flatMap((facet) => {
          const set = this.facets.get(facet);
          return set ? [set] : [];
        })
      : [this.all];
    const rest = filter.filter((group) => group !== driving);
    for (const key of mergeKeys(sources, options)) {
      const entry = this.entries.get(key)!;
      if (rest.every((group) => group.some((facet) => entry.facets.includes(facet)))) {
        yield { key, agentId: entry.agentId, id: entry.id };
      }
    }
  }
}

/** The union of sorted sets in one order, each key once. */
function* mergeKeys(sources: SortedKeys[], options: ScanOptions): Generator<string> {
  const descending = options.descending ?? false;
  const walk = (set: SortedKeys) => (descending ? set.descending(options.cursor) : set.ascending(options.cursor));
  if (sources.length === 1) {
    yield* walk(sources[0]!);
    return;
  }
  const heads = sources.map((set) => {
    const iterator = walk(set);
    return { iterator, next: iterator.next() };
  });
  const before = (a: string, b: string) => (descending ? a > b : a < b);
  let last: string | undefined;
  for (;;) {
    let best: (typeof heads)[number] | undefined;
    for (const head of heads) {
      if (!head.next.done && (!best || before(head.next.value, best.next.value as string))) best = head;
    }
    if (!best) return;
    const key = best.next.value as string;
    best.next = best.iterator.next();
    if (key !== last) yield key;
    last = key;
  }
}
