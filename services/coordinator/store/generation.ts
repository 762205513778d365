import { MetaSchema } from './entities.js';
import type { CoordinatorOrm } from './orm.js';

/**
 * Counts coordinator starts. Each start numbers its in-memory changes from a fresh range
 * (generation × 2^32), so revisions of different processes never collide. Stays within
 * JavaScript's safe integers for 2^21 starts.
 */
export async function nextGeneration(orm: CoordinatorOrm): Promise<number> {
  return orm.em.fork().transactional(async (em) => {
    const row = await em.findOne(MetaSchema, { key: 'generation' });
    const generation = (row ? Number(row.value) : 0) + 1;
    if (row) row.value = String(generation);
    else em.create(MetaSchema, { key: 'generation', value: String(generation) });
    return generation;
  });
}

export const revisionBase = (generation: number): number => generation * 2 ** 32;
