import { Migration } from '@mikro-orm/migrations';

export class Migration0011Setup extends Migration {
  override async up(): Promise<void> {
    // Per repo: the command that sets a new worktree up, the one run before it is removed, and
    // globs of untracked files copied into it from the main checkout.
    this.addSql(`alter table repo add column setup text not null default ''`);
    this.addSql(`alter table repo add column teardown text not null default ''`);
    this.addSql(`alter table repo add column copy_globs text not null default '[]'`);
    // What was copied into each worktree (path and sha256): unchanged copies are not work.
    this.addSql(`alter table session_worktree add column copied text not null default '[]'`);
    this.addSql(`alter table session_worktree add column teardown_error text not null default ''`);
    // A task that is a repo's setup command.
    this.addSql(`alter table task add column setup integer not null default 0`);
  }
}
