import { invalidArgument } from '../../common/errors.js';
import { decodePageToken, encodePageToken, pageSize } from '../../common/paging.js';
import type { FacetFilter, IndexedRef, ResourceIndex } from '../projection/resource-index.js';

export type SortOrder = 'asc' | 'desc';

export interface PageRequest {
  pageSize: number;
  pageToken: string;
  orderBy?: string | undefined;
}

export interface Page<T> {
  page: T[];
  nextPageToken: string;
}

/** Lists sort by id (ids sort by creation time): `id` / `id asc` (default) or `id desc`. */
export function parseOrderBy(orderBy: string | undefined): SortOrder {
  const normalized = (orderBy ?? '').trim().replace(/\s+/g, ' ').toLowerCase();
  if (normalized === '' || normalized === 'id' || normalized === 'id asc') return 'asc';
  if (normalized === 'id desc') return 'desc';
  throw invalidArgument('BAD_ORDER_BY', `order_by "${orderBy}" is not supported: use "id" or "id desc"`);
}

// The token carries the order it was issued for, so a token cannot silently skip or repeat
// items when replayed with the other order.
const ORDER_MARK: Record<SortOrder, string> = { asc: '>', desc: '<' };

function tokenCursor(token: string, order: SortOrder): string | undefined {
  const decoded = decodePageToken(token);
  if (decoded === undefined) return undefined;
  if (!decoded.startsWith(ORDER_MARK[order])) {
    throw invalidArgument('BAD_PAGE_TOKEN', 'page_token was issued for another order_by');
  }
  return decoded.slice(1);
}

const tokenFor = (key: string, order: SortOrder) => encodePageToken(`${ORDER_MARK[order]}${key}`);

/**
 * One page from a sorted index: seeks to the token and reads until the page is full, plus
 * one to know whether there is more. `load` may answer undefined to skip an entry.
 */
export function pageFromIndex<T, R>(
  index: ResourceIndex<T>,
  filter: FacetFilter,
  request: PageRequest,
  load: (ref: IndexedRef) => R | undefined,
): Page<R> {
  const size = pageSize(request.pageSize);
  const order = parseOrderBy(request.orderBy);
  const cursor = tokenCursor(request.pageToken, order);
  const page: R[] = [];
  let lastKey: string | undefined;
  for (const ref of index.scan({ filter, cursor, descending: order === 'desc' })) {
    const item = load(ref);
    if (item === undefined) continue;
    if (page.length === size) return { page, nextPageToken: tokenFor(lastKey!, order) };
    page.push(item);
    lastKey = ref.key;
  }
  return { page, nextPageToken: '' };
}

/** One page of a small in-memory list already sorted ascending by `keyOf` (agents). */
export function pageOf<T>(items: T[], request: PageRequest, keyOf: (item: T) => string): Page<T> {
  const size = pageSize(request.pageSize);
  const order = parseOrderBy(request.orderBy);
  const cursor = tokenCursor(request.pageToken, order);
  const ordered = order === 'asc' ? items : [...items].reverse();
  const rest = cursor === undefined ? ordered : ordered.filter((item) => (order === 'asc' ? keyOf(item) > cursor : keyOf(item) < cursor));
  const page = rest.slice(0, size);
  const last = page[page.length - 1];
  return { page, nextPageToken: rest.length > size && last !== undefined ? tokenFor(keyOf(last), order) : '' };
}
