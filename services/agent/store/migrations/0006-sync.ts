import { Migration } from '@mikro-orm/migrations';

export class Migration0006Sync extends Migration {
  override async up(): Promise<void> {
    // One sync per repo: the user's own checkout follows one session at a time.
    this.addSql(`create table sync (
      repo_id text not null primary key,
      session_id text not null,
      state text not null,
      causes text not null default '[]',
      sync_branch text not null,
      original_branch text not null,
      original_commit text not null,
      stash_id text not null default '',
      updated_at datetime not null
    )`);
    // Stashes stand alone: they outlive the sync that made them and are never needed to stop.
    this.addSql(`create table stash (
      id text not null primary key,
      repo_id text not null,
      ref text not null,
      stash_commit text not null,
      untracked text not null default '[]',
      created_at datetime not null
    )`);
  }
}
