import { Migration } from '@mikro-orm/migrations';

export class Migration0001Initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table meta (key text not null primary key, value text not null)`);
    this.addSql(`create table repo (
      id text not null primary key,
      name text not null unique,
      path text not null unique,
      default_branch text not null,
      created_at datetime not null
    )`);
    // AUTOINCREMENT: revisions are never reused, even after compaction deletes the newest rows.
    this.addSql(`create table event (
      revision integer not null primary key autoincrement,
      type text not null,
      resource text not null,
      time datetime not null,
      payload blob not null
    )`);
  }
}
