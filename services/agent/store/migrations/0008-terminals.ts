import { Migration } from '@mikro-orm/migrations';

export class Migration0008Terminals extends Migration {
  override async up(): Promise<void> {
    // Terminal tasks: a pseudo-terminal of this size held by the runner.
    this.addSql(`alter table task add column tty integer not null default 0`);
    this.addSql(`alter table task add column cols integer not null default 0`);
    this.addSql(`alter table task add column rows integer not null default 0`);
    this.addSql(`alter table task add column profile text not null default ''`);
    // What a running task is doing: WORKING, NEEDS_INPUT or IDLE, and where that came from.
    this.addSql(`alter table task add column activity text not null default ''`);
    this.addSql(`alter table task add column activity_source text not null default ''`);
    this.addSql(`alter table task add column activity_message text not null default ''`);
    this.addSql(`alter table task add column activity_at datetime null`);
    // sha256 of the per-task secret `grove signal` proves itself with (the secret is not kept).
    this.addSql(`alter table task add column secret_hash text not null default ''`);
  }
}
