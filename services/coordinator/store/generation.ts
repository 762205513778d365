import type { CoordinatorOrm } from './orm.js';

/**
 * Counts coordinator starts. Each start numbers its in-memory changes from a fresh range
 * (generation × 2^32), so revisions of different processes never collide. Stays within
 * JavaScript's safe integers for 2^21 starts. One statement, so replicas starting together
 * on one PostgreSQL each get their own number.
 */
export async function nextGeneration(orm: CoordinatorOrm): Promise<number> {
  const rows = await orm.em
    .fork()
    .getConnection()
    .execute<Array<{ value: string }>>(
      `insert into meta (key, value) values ('generation', '1')
       on conflict (key) do update set value = cast(cast(meta.value as integer) + 1 as text)
       returning value`,
      [],
      'all',
    );
  return Number(rows[0]!.value);
}

export const revisionBase = (generation: number): number => generation * 2 ** 32;
