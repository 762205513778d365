import { Migration } from '@mikro-orm/migrations';

export class Migration0009Land extends Migration {
  override async up(): Promise<void> {
    // A land_session job's plan and journal: target, strategy, and per repo the old and new
    // commit of its target, so a run cut short by a crash is finished or undone, never half.
    this.addSql(`alter table job add column plan text not null default '{}'`);
    // What was landed where: per repo, the target branch and the commit it moved to.
    this.addSql(`alter table session add column landings text not null default '[]'`);
  }
}
