import { Migration } from '@mikro-orm/migrations';
import { columnTypes } from './column-types.js';

export class Migration0004OutboxLeases extends Migration {
  override async up(): Promise<void> {
    const t = columnTypes(this.driver);
    // Replicas share the outbox: a replica leases a row before it POSTs it, so a notification
    // is sent by one of them at a time (and its backoff is honoured by all).
    this.addSql(`alter table webhook_outbox add column lease_owner text not null default ''`);
    this.addSql(`alter table webhook_outbox add column lease_until ${t.datetime} null`);
  }
}
