import { Migration } from '@mikro-orm/migrations';
import { columnTypes } from './column-types.js';

export class Migration0003Webhooks extends Migration {
  override async up(): Promise<void> {
    const t = columnTypes(this.driver);
    // The webhook outbox: a row per notification and receiver, written when the coordinator
    // saw what happened and kept until the receiver acknowledged it (then compacted).
    this.addSql(`create table webhook_outbox (
      id ${t.autoId},
      notification_id text not null,
      url text not null,
      type text not null,
      body text not null,
      created_at ${t.datetime} not null,
      attempts integer not null default 0,
      next_attempt_at ${t.datetime} not null,
      delivered_at ${t.datetime} null,
      last_error text not null default ''
    )`);
    this.addSql(`create unique index webhook_outbox_notification_url on webhook_outbox (notification_id, url)`);
    this.addSql(`create index webhook_outbox_due on webhook_outbox (delivered_at, next_attempt_at)`);
    // Retention compacts the command audit by age.
    this.addSql(`create index command_audit_requested_at on command_audit (requested_at)`);
  }
}
