import { Migration } from '@mikro-orm/migrations';
import { columnTypes } from './column-types.js';

export class Migration0002Groups extends Migration {
  override async up(): Promise<void> {
    const t = columnTypes(this.driver);
    // Fan-out groups: the coordinator's own records, referencing agent-owned sessions.
    this.addSql(`create table task_group (
      id text not null primary key,
      title text not null,
      members ${t.json} not null,
      picked_session_id text not null default '',
      land_job_id text not null default '',
      created_at ${t.datetime} not null
    )`);
  }
}
