import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { MetaSchema } from '../../common/meta.entity.js';

export { MetaSchema };

// Entities map tables that the committed migrations create; the schema is never synced from
// these definitions at run time.

/** Every agent that ever said Hello: the registry outlives links and coordinator restarts. */
export const AgentSchema = defineEntity({
  name: 'AgentRow',
  tableName: 'agent',
  properties: {
    id: p.string().primary(),
    name: p.string(),
    labels: p.json<Record<string, string>>(),
    version: p.string(),
    /** The agent's newest revision as of its last Hello. */
    helloRevision: p.integer(),
    firstSeen: p.datetime(),
    /** Last time any message arrived on its link; written behind, at most a flush late. */
    lastSeen: p.datetime(),
    /** Start of the current (or last) link. */
    connectedAt: p.datetime().nullable(),
    /** End of the last link; null while one is open (or the coordinator died under it). */
    disconnectedAt: p.datetime().nullable(),
  },
});
export type AgentRow = InferEntity<typeof AgentSchema>;

/** One row per command sent over a link: who was asked to do what, and how it ended. */
export const CommandAuditSchema = defineEntity({
  name: 'CommandAuditRow',
  tableName: 'command_audit',
  properties: {
    id: p.integer().primary().autoincrement(),
    requestId: p.string().unique(),
    agentId: p.string(),
    method: p.string(),
    /** gRPC status code; null while the command is in flight (or was when we crashed). */
    code: p.integer().nullable(),
    reason: p.string().nullable(),
    requestedAt: p.datetime(),
    completedAt: p.datetime().nullable(),
  },
});
export type CommandAuditRow = InferEntity<typeof CommandAuditSchema>;

/** One attempt of a group, as recorded when it was made (live state comes from the projection). */
export interface GroupMemberRecord {
  index: number;
  agentId: string;
  sessionId: string;
  taskId: string;
  branch: string;
  state: 'created' | 'failed' | 'picked' | 'cleaned_up';
  error: string;
}

/** A fan-out group: N attempts of one task in sessions on chosen agents. */
export const GroupSchema = defineEntity({
  name: 'GroupRow',
  tableName: 'task_group',
  properties: {
    id: p.string().primary(),
    title: p.string(),
    members: p.json<GroupMemberRecord[]>(),
    pickedSessionId: p.string(),
    landJobId: p.string(),
    createdAt: p.datetime(),
  },
});
export type GroupRow = InferEntity<typeof GroupSchema>;

/** A notification owed to one webhook receiver; delivered once acknowledged (a 2xx answer). */
export const WebhookOutboxSchema = defineEntity({
  name: 'WebhookOutboxRow',
  tableName: 'webhook_outbox',
  properties: {
    id: p.integer().primary().autoincrement(),
    notificationId: p.string(),
    url: p.string(),
    type: p.string(),
    /** The exact JSON body signed and sent: every attempt sends the same bytes. */
    body: p.text(),
    createdAt: p.datetime(),
    attempts: p.integer(),
    nextAttemptAt: p.datetime(),
    deliveredAt: p.datetime().nullable(),
    lastError: p.string(),
    /** The replica delivering it now ('' for none): a lease, so replicas never POST it at once. */
    leaseOwner: p.string(),
    leaseUntil: p.datetime().nullable(),
  },
});
export type WebhookOutboxRow = InferEntity<typeof WebhookOutboxSchema>;

export const ALL_ENTITIES = [MetaSchema, AgentSchema, CommandAuditSchema, GroupSchema, WebhookOutboxSchema];
