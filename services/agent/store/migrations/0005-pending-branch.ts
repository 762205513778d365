import { Migration } from '@mikro-orm/migrations';

export class Migration0005PendingBranch extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table session add column pending_job_id text not null default ''`);
  }
}
