import { Migration } from '@mikro-orm/migrations';

export class Migration0004Jobs extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table job (
      id text not null primary key,
      kind text not null,
      state text not null,
      repo_id text not null default '',
      branch text not null default '',
      base text not null default '',
      session_id text not null default '',
      session_ids text not null default '[]',
      idempotency_key text null unique,
      progress_percent integer not null default 0,
      progress_message text not null default '',
      result text not null default '',
      error text not null default '',
      attempts integer not null default 0,
      cancel_requested integer not null default 0,
      created_at datetime not null,
      started_at datetime null,
      ended_at datetime null
    )`);
    this.addSql(`create index job_state on job (state, created_at)`);
    // Branches Grove knows the shape of: parent for rebase/restack, upstream for fetch.
    this.addSql(`create table branch (
      repo_id text not null,
      name text not null,
      parent text not null default '',
      upstream text not null default '',
      head text not null default '',
      registered_at datetime not null,
      primary key (repo_id, name)
    )`);
  }
}
