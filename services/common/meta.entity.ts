import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** A service's own small facts (its agent id, a start counter): one `meta` key/value table each. */
export const MetaSchema = defineEntity({
  name: 'Meta',
  tableName: 'meta',
  properties: {
    key: p.string().primary(),
    value: p.string(),
  },
});
export type Meta = InferEntity<typeof MetaSchema>;
