import { Migration } from '@mikro-orm/migrations';

export class Migration0002Sessions extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table session (
      id text not null primary key,
      title text not null,
      branch text not null,
      base text not null,
      state text not null,
      labels text not null,
      request_id text null unique,
      last_error text not null default '',
      created_at datetime not null,
      updated_at datetime not null
    )`);
    // repo_id is deliberately not a foreign key: a repo may be removed while stopped sessions
    // still remember it; such rows are skipped with a warning, never an error.
    this.addSql(`create table session_worktree (
      session_id text not null references session (id) on delete cascade,
      repo_id text not null,
      repo_name text not null,
      path text not null unique,
      branch text not null,
      created_branch integer not null,
      state text not null,
      preserved_ref text not null default '',
      preserved_commit text not null default '',
      last_error text not null default '',
      drift text not null default '',
      remove_attempts integer not null default 0,
      next_retry_at datetime null,
      primary key (session_id, repo_id)
    )`);
    this.addSql(`create index session_worktree_repo on session_worktree (repo_id, state)`);
    this.addSql(`create index session_worktree_retry on session_worktree (state, next_retry_at)`);
  }
}
