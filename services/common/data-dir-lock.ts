import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { StartupError } from './startup-error.js';

export interface DataDirLock {
  release(): Promise<void>;
}

const run = (db: sqlite3.Database, sql: string) =>
  new Promise<void>((resolve, reject) => db.exec(sql, (err) => (err ? reject(err) : resolve())));

/**
 * Holds the data directory for this process's whole life, so a second service started on
 * the same directory is refused instead of running recovery against the first one's live
 * work. The lock is the kernel's: a SQLite database in exclusive locking mode holds a POSIX
 * lock on `owner.lock` from its first write until the process ends, however it ends (a
 * SIGKILL or a crash releases it; no stale lock file can ever block a start).
 */
export async function lockDataDir(dataDir: string, service: string): Promise<DataDirLock> {
  mkdirSync(dataDir, { recursive: true });
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const opened = new sqlite3.Database(join(dataDir, 'owner.lock'), (err) => (err ? reject(err) : resolve(opened)));
  });
  try {
    await run(
      db,
      'PRAGMA locking_mode = EXCLUSIVE; PRAGMA busy_timeout = 0; BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS owner (pid INTEGER); COMMIT;',
    );
  } catch (err) {
    await new Promise<void>((resolve) => db.close(() => resolve()));
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    let holder = '';
    try {
      holder = ` (pid ${Number(readFileSync(join(dataDir, 'owner.pid'), 'utf8')) || 'unknown'})`;
    } catch {
      // the pid is only a courtesy
    }
    throw new StartupError(
      `the data directory ${dataDir} is in use by another ${service} process${holder}; stop it, or give this one its own --data-dir`,
    );
  }
  // For people and the message above only: the kernel lock, not this file, is the truth.
  writeFileSync(join(dataDir, 'owner.pid'), `${process.pid}\n`);
  return {
    release: () => new Promise<void>((resolve) => db.close(() => resolve())),
  };
}

/**
 * Starts a service while holding its data directory: the lock is released when the service
 * closes, or at once when it fails to start.
 */
export async function startHoldingDataDir<T extends { close(): Promise<void> }>(
  dataDir: string,
  service: string,
  start: () => Promise<T>,
): Promise<T> {
  const lock = await lockDataDir(dataDir, service);
  let started: T;
  try {
    started = await start();
  } catch (err) {
    await lock.release();
    throw err;
  }
  const close = started.close.bind(started);
  started.close = async () => {
    await close();
    await lock.release();
  };
  return started;
}
