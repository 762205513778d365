import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// Entities map tables that the committed migrations create; the schema is never synced from
// these definitions at run time. Foreign keys are plain columns checked by SQLite itself.

export const MetaSchema = defineEntity({
  name: 'Meta',
  tableName: 'meta',
  properties: {
    key: p.string().primary(),
    value: p.string(),
  },
});
export type Meta = InferEntity<typeof MetaSchema>;

export const RepoSchema = defineEntity({
  name: 'RepoRow',
  tableName: 'repo',
  properties: {
    id: p.string().primary(),
    name: p.string(),
    path: p.string(),
    defaultBranch: p.string(),
    createdAt: p.datetime(),
  },
});
export type RepoRow = InferEntity<typeof RepoSchema>;

export const EventSchema = defineEntity({
  name: 'EventRow',
  tableName: 'event',
  properties: {
    revision: p.integer().primary().autoincrement(),
    type: p.string(),
    resource: p.string(),
    time: p.datetime(),
    // The encoded grove.agent.v1.Event: stored in wire form so replay is byte-identical.
    payload: p.blob(),
  },
});
export type EventRow = InferEntity<typeof EventSchema>;

export const ALL_ENTITIES = [MetaSchema, RepoSchema, EventSchema];
