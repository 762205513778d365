import sqlite3 from 'sqlite3';

/**
 * Runs SQL against a stopped agent's database file: fault injection for tests that need a
 * row the API would never write (a lock held by a reused pid, say).
 */
export function execSql(file: string, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (openErr) => {
      if (openErr) return reject(openErr);
      db.run(sql, params, (err) => db.close(() => (err ? reject(err) : resolve())));
    });
  });
}

/** Reads rows from a service's database file, read-only: for tests that wait on what is durable. */
export function querySql<T = Record<string, unknown>>(file: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (openErr) => {
      if (openErr) return reject(openErr);
      db.all(sql, params, (err, rows) => db.close(() => (err ? reject(err) : resolve(rows as T[]))));
    });
  });
}
