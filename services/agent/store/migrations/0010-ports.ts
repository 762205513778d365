import { Migration } from '@mikro-orm/migrations';

export class Migration0010Ports extends Migration {
  override async up(): Promise<void> {
    // The block of ports a session holds (--port-range, --ports-per-session) while it has a
    // worktree on disk; tasks see them as GROVE_PORT, GROVE_PORT_1..K.
    this.addSql(`alter table session add column ports text not null default '[]'`);
  }
}
