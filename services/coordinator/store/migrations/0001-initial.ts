import { Migration } from '@mikro-orm/migrations';
import { columnTypes } from './column-types.js';

export class Migration0001Initial extends Migration {
  override async up(): Promise<void> {
    const t = columnTypes(this.driver);
    this.addSql(`create table meta (key text not null primary key, value text not null)`);
    this.addSql(`create table agent (
      id text not null primary key,
      name text not null,
      labels ${t.json} not null,
      version text not null,
      hello_revision integer not null,
      first_seen ${t.datetime} not null,
      last_seen ${t.datetime} not null,
      connected_at ${t.datetime} null,
      disconnected_at ${t.datetime} null
    )`);
    // Names are not unique: two machines may share a host name; ids tell them apart.
    this.addSql(`create index agent_name_index on agent (name)`);
    this.addSql(`create table command_audit (
      id ${t.autoId},
      request_id text not null unique,
      agent_id text not null references agent (id) on delete cascade,
      method text not null,
      code integer null,
      reason text null,
      requested_at ${t.datetime} not null,
      completed_at ${t.datetime} null
    )`);
    this.addSql(`create index command_audit_agent_index on command_audit (agent_id, requested_at)`);
  }
}
