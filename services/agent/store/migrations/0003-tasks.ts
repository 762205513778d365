import { Migration } from '@mikro-orm/migrations';

export class Migration0003Tasks extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table task (
      id text not null primary key,
      session_id text not null references session (id) on delete cascade,
      seq integer not null,
      prompt text not null,
      argv text not null,
      env text not null,
      repo_id text not null,
      cwd text not null,
      state text not null,
      reason text not null default '',
      pid integer not null default 0,
      pid_start_ticks integer not null default 0,
      boot_id text not null default '',
      exit_code integer null,
      exit_signal text not null default '',
      cancel_requested integer not null default 0,
      output_tail text not null default '',
      run_dir text not null,
      request_id text null unique,
      created_at datetime not null,
      started_at datetime null,
      ended_at datetime null,
      unique (session_id, seq)
    )`);
    this.addSql(`create index task_state on task (state, session_id, seq)`);
    // Locks reference nothing: they must hold even when session bookkeeping is wrong.
    this.addSql(`create table dir_lock (
      directory text not null primary key,
      pid integer not null,
      pid_start_ticks integer not null,
      boot_id text not null,
      owner text not null,
      locked_at datetime not null
    )`);
  }
}
