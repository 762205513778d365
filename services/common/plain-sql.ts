import type { EntityManager, MikroORM } from '@mikro-orm/sqlite';
import type { Database } from 'sqlite3';

/**
 * Plain SQL statements, for the few hot paths where MikroORM's query layers (knex's
 * builder and transaction objects, the ORM's connection wrapper) cost more than the
 * statement: measured here, about 0.45 ms of CPU per statement and 1.9 ms per
 * two-statement transaction, against 0.18 and 1.0 plain. Values are bound as given (`?`
 * placeholders only).
 */
export interface Sql {
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  run(sql: string, params?: readonly unknown[]): Promise<{ changes: number; lastId: number }>;
}

/** Statements straight on one node-sqlite3 connection. */
function connectionSql(db: Database): Sql {
  return {
    all: <T>(sql: string, params: readonly unknown[] = []) =>
      new Promise<T[]>((resolve, reject) => db.all(sql, params, (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows)))),
    run: (sql, params = []) =>
      new Promise((resolve, reject) =>
        db.run(sql, params, function (err) {
          if (err) reject(err);
          else resolve({ changes: this.changes, lastId: this.lastID });
        }),
      ),
  };
}

type Pool = { acquireConnection(): Promise<unknown>; releaseConnection(connection: unknown): Promise<unknown> };

/** The pool behind one of the ORM's connections: the writer, or the reader of reads outside transactions. */
function poolOf(orm: MikroORM, type: 'write' | 'read'): Pool {
  return orm.em.getConnection(type).getKnex().client as Pool;
}

/**
 * Runs `work` with the ORM's connection of `type` to itself, taken from the same pool the ORM
 * takes it from: with one writer connection, a unit of work here and an ORM transaction wait
 * for each other, in the order they asked.
 */
export async function withConnection<T>(orm: MikroORM, type: 'write' | 'read', work: (sql: Sql) => Promise<T>): Promise<T> {
  const pool = poolOf(orm, type);
  const db = (await pool.acquireConnection()) as Database;
  try {
    return await work(connectionSql(db));
  } finally {
    await pool.releaseConnection(db);
  }
}

/** Plain reads outside any transaction, each statement on the reader connection. */
export function readerSql(orm: MikroORM): Sql {
  return {
    all: (sql, params) => withConnection(orm, 'read', (reader) => reader.all(sql, params)),
    run: () => Promise.reject(new Error('the reader connection does not write')),
  };
}

/** Statements in `em`'s transaction (on its connection), or on the writer when it has none. */
export function entityManagerSql(em: EntityManager): Sql {
  const connection = em.getConnection();
  const context = em.getTransactionContext();
  return {
    all: <T>(sql: string, params: readonly unknown[] = []) => connection.execute<T[]>(sql, [...params], 'all', context),
    run: async (sql, params = []) => {
      const result = await connection.execute<{ affectedRows: number; insertId: number }>(sql, [...params], 'run', context);
      return { changes: result.affectedRows, lastId: result.insertId };
    },
  };
}
