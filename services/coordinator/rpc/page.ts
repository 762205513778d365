import { decodePageToken, pageSize, takePage } from '../../common/paging.js';

/**
 * One page of `items`, which must be sorted by `keyOf`: the page token is the last key
 * served, so a page stays correct while items come and go between calls.
 */
export function pageOf<T>(
  items: T[],
  request: { pageSize: number; pageToken: string },
  keyOf: (item: T) => string,
): { page: T[]; nextPageToken: string } {
  const size = pageSize(request.pageSize);
  const after = decodePageToken(request.pageToken);
  const rest = after === undefined ? items : items.filter((item) => keyOf(item) > after);
  return takePage(rest.slice(0, size + 1), size, keyOf);
}

export function byKey<T>(keyOf: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const ka = keyOf(a);
    const kb = keyOf(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
}
