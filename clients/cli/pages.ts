/**
 * Follows `next_page_token` to the last page. Answers every item and the first page: its
 * revision is the safe one to watch from (later pages may repeat what events after it
 * show, but nothing can be missed).
 */
export async function allPages<P extends { nextPageToken: string }, T>(
  fetch: (pageToken: string) => Promise<P>,
  items: (page: P) => readonly T[],
): Promise<{ first: P; items: T[] }> {
  const first = await fetch('');
  const all = [...items(first)];
  let token = first.nextPageToken;
  while (token) {
    const page = await fetch(token);
    all.push(...items(page));
    token = page.nextPageToken;
  }
  return { first, items: all };
}
