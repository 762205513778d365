import { Migration } from '@mikro-orm/migrations';

export class Migration0007Teardown extends Migration {
  override async up(): Promise<void> {
    // Globs of ignored files a repo declares to be user work.
    this.addSql(`alter table repo add column keep_ignored text not null default '[]'`);
    // The ignored paths removed with a worktree, so a user can see what went.
    this.addSql(`alter table session_worktree add column removed_ignored text not null default '[]'`);
    this.addSql(`alter table session_worktree add column removed_ignored_total integer not null default 0`);
  }
}
