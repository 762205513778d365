import { Status } from 'nice-grpc-common';
import { describe, expect, it } from 'vitest';
import { ResourceIndex } from '../projection/resource-index.js';
import { pageFromIndex, pageOf, parseOrderBy, type SortOrder } from './page.js';

describe('parseOrderBy', () => {
  it.each<[string, SortOrder]>([
    ['', 'asc'],
    ['id', 'asc'],
    ['id asc', 'asc'],
    ['  ID   DESC ', 'desc'],
  ])('"%s" is %s', (orderBy, order) => {
    expect(parseOrderBy(orderBy)).toBe(order);
  });

  it.each(['name', 'id sideways', 'create_time desc'])('refuses "%s"', (orderBy) => {
    expect(() => parseOrderBy(orderBy)).toThrow(expect.objectContaining({ code: Status.INVALID_ARGUMENT, reason: 'BAD_ORDER_BY' }));
  });
});

describe('pages', () => {
  const index = new ResourceIndex<{ even: boolean }>((item) => (item.even ? ['even'] : []));
  const ids = Array.from({ length: 7 }, (_, i) => `s${i}`);
  ids.forEach((id, i) => index.put(i % 2 ? 'a2' : 'a1', id, { even: i % 2 === 0 }));
  const all = (order: string, filter: string[][] = [], size = 3) => {
    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = pageFromIndex(index, filter, { pageSize: size, pageToken, orderBy: order }, (ref) => ref.id);
      expect(page.page.length).toBeLessThanOrEqual(size);
      seen.push(...page.page);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return seen;
  };

  it.each<[string, string, string[][], string[]]>([
    ['ascending', '', [], ids],
    ['descending', 'id desc', [], [...ids].reverse()],
    ['filtered', '', [['even']], ['s0', 's2', 's4', 's6']],
    ['filtered, descending', 'id desc', [['even']], ['s6', 's4', 's2', 's0']],
  ])('walks every item once, %s', (_case, order, filter, expected) => {
    expect(all(order, filter)).toEqual(expected);
  });

  it('ends without a token when the last page is exactly full', () => {
    const page = pageFromIndex(index, [['even']], { pageSize: 4, pageToken: '' }, (ref) => ref.id);
    expect(page).toEqual({ page: ['s0', 's2', 's4', 's6'], nextPageToken: '' });
  });

  it('refuses a token issued for the other order', () => {
    const { nextPageToken } = pageFromIndex(index, [], { pageSize: 2, pageToken: '' }, (ref) => ref.id);
    expect(() => pageFromIndex(index, [], { pageSize: 2, pageToken: nextPageToken, orderBy: 'id desc' }, (ref) => ref.id)).toThrow(
      expect.objectContaining({ reason: 'BAD_PAGE_TOKEN' }),
    );
  });

  it('pages a small sorted list the same way', () => {
    const first = pageOf(ids, { pageSize: 4, pageToken: '', orderBy: 'id desc' }, (id) => id);
    expect(first.page).toEqual(['s6', 's5', 's4', 's3']);
    expect(pageOf(ids, { pageSize: 4, pageToken: first.nextPageToken, orderBy: 'id desc' }, (id) => id)).toEqual({
      page: ['s2', 's1', 's0'],
      nextPageToken: '',
    });
  });
});
