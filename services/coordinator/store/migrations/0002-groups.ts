import { Migration } from '@mikro-orm/migrations';

export class Migration0002Groups extends Migration {
  override async up(): Promise<void> {
    // Fan-out groups: the coordinator's own records, referencing agent-owned sessions.
    this.addSql(`create table task_group (
      id text not null primary key,
      title text not null,
      members json not null,
      picked_session_id text not null default '',
      land_job_id text not null default '',
      created_at datetime not null
    )`);
  }
}
