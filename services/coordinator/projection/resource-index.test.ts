import { describe, expect, it } from 'vitest';
import { agentFacet, ResourceIndex } from './resource-index.js';

interface Item {
  state: string;
  labels: string[];
}

const index = () => new ResourceIndex<Item>((item) => [`state:${item.state}`, ...item.labels.map((l) => `label:${l}`)]);
const ids = (refs: Iterable<{ id: string; agentId: string }>) => [...refs].map((r) => `${r.agentId}/${r.id}`);

describe('ResourceIndex', () => {
  const filled = () => {
    const idx = index();
    idx.put('a1', 's3', { state: 'active', labels: ['team=x'] });
    idx.put('a2', 's1', { state: 'stopped', labels: ['team=x'] });
    idx.put('a1', 's2', { state: 'active', labels: [] });
    idx.put('a2', 's4', { state: 'active', labels: ['team=y'] });
    return idx;
  };

  it.each<[string, string[][], string[]]>([
    ['no filter: everything by id', [], ['a2/s1', 'a1/s2', 'a1/s3', 'a2/s4']],
    ['one agent', [[agentFacet('a1')]], ['a1/s2', 'a1/s3']],
    ['either agent', [[agentFacet('a1'), agentFacet('a2')]], ['a2/s1', 'a1/s2', 'a1/s3', 'a2/s4']],
    ['state and label', [['state:active'], ['label:team=x']], ['a1/s3']],
    ['agent and state', [[agentFacet('a2')], ['state:active']], ['a2/s4']],
    ['a facet nobody has', [['state:archived']], []],
    ['an empty group matches nothing', [[]], []],
  ])('scans %s', (_case, filter, expected) => {
    expect(ids(filled().scan({ filter }))).toEqual(expected);
  });

  it('pages from a cursor in both directions', () => {
    const idx = filled();
    const key = ResourceIndex.keyOf('a1', 's2');
    expect(ids(idx.scan({ cursor: key }))).toEqual(['a1/s3', 'a2/s4']);
    expect(ids(idx.scan({ cursor: key, descending: true }))).toEqual(['a2/s1']);
    expect(ids(idx.scan({ filter: [['state:active']], cursor: key, descending: true }))).toEqual([]);
  });

  it('moves a resource between facets on update and forgets it on removal', () => {
    const idx = filled();
    idx.put('a1', 's2', { state: 'stopped', labels: ['team=y'] });
    expect(ids(idx.scan({ filter: [['state:stopped']] }))).toEqual(['a2/s1', 'a1/s2']);
    expect(idx.count('state:active')).toBe(2);
    expect(idx.count('label:team=y')).toBe(2);
    idx.remove('a1', 's2');
    idx.remove('a1', 's2');
    expect(idx.size).toBe(3);
    expect(idx.count('label:team=y')).toBe(1);
    expect(idx.ownersOf('s2')).toEqual([]);
    expect(idx.ownersOf('s3')).toEqual(['a1']);
  });

  it('keeps the same id reported by two agents apart', () => {
    const idx = index();
    idx.put('a2', 'dup', { state: 'active', labels: [] });
    idx.put('a1', 'dup', { state: 'active', labels: [] });
    expect(ids(idx.scan())).toEqual(['a1/dup', 'a2/dup']);
    expect(idx.ownersOf('dup')).toEqual(['a2', 'a1']);
    idx.remove('a2', 'dup');
    expect(idx.ownersOf('dup')).toEqual(['a1']);
  });

  it('serves a page of a large index without walking it', () => {
    const idx = index();
    for (let agent = 0; agent < 100; agent++) {
      for (let s = 0; s < 100; s++) idx.put(`a${agent}`, `s${String(s * 100 + agent).padStart(5, '0')}`, { state: 'active', labels: [] });
    }
    let loaded = 0;
    const iterator = idx.scan({ filter: [['state:active']], cursor: ResourceIndex.keyOf('a0', 's05000') });
    const page: string[] = [];
    for (const ref of iterator) {
      loaded++;
      page.push(ref.id);
      if (page.length === 3) break;
    }
    expect(page).toEqual(['s05001', 's05002', 's05003']);
    expect(loaded).toBe(3);
  });
});
