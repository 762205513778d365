import type { EntityManager } from '@mikro-orm/sqlite';
import { entityManagerSql, readerSql, withConnection, type Sql } from '../../common/plain-sql.js';
import type { EventDraft, EventLog } from './event-log.js';
import type { AgentOrm } from './orm.js';

/** What a unit of work gets: its EntityManager and a way to record events in it. */
export interface Tx {
  em: EntityManager;
  emit(draft: EventDraft): void;
}

/** What a unit of work in plain SQL gets: statements in its transaction, and events. */
export interface PlainTx {
  sql: Sql;
  emit(draft: EventDraft): void;
}

/**
 * The only way agent code changes state: the change and its events commit in one
 * transaction, then watchers are woken. Inside `work`, every query must go through the
 * transaction's `em` or `sql`: the database has one writer connection, so a write anywhere
 * else would wait forever.
 */
export class Store {
  /** Plain reads outside transactions, on the reader connection (see `read`). */
  readonly reads: Sql;

  constructor(
    readonly orm: AgentOrm,
    readonly events: EventLog,
  ) {
    this.reads = readerSql(orm);
  }

  /** A fresh EntityManager for reads; never shared between calls. */
  read(): EntityManager {
    return this.orm.em.fork();
  }

  /**
   * Like transact, for work in plain statements only (the job table's hot path): the same
   * writer connection and the same events, without the ORM's transaction machinery, which
   * costs more than the statements of a small unit of work.
   */
  async write<T>(work: (tx: PlainTx) => Promise<T>): Promise<T> {
    const { value, revision } = await withConnection(this.orm, 'write', async (sql) => {
      await sql.run('begin immediate');
      try {
        const staged: EventDraft[] = [];
        const value = await work({ sql, emit: (draft) => void staged.push(draft) });
        const revision = await this.events.append(sql, staged);
        await sql.run('commit');
        return { value, revision };
      } catch (err) {
        // None left to roll back when SQLite already did (after an I/O error, say).
        await sql.run('rollback').catch(() => undefined);
        throw err;
      }
    });
    await this.events.committed(revision);
    return value;
  }

  async transact<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return (await this.commit(work)).value;
  }

  /** Like transact, also answering the revision of the last event the work recorded. */
  async commit<T>(work: (tx: Tx) => Promise<T>): Promise<{ value: T; revision: number }> {
    const em = this.orm.em.fork();
    let revision = 0;
    const value = await em.transactional(async (txEm) => {
      const staged: EventDraft[] = [];
      const value = await work({ em: txEm, emit: (draft) => void staged.push(draft) });
      revision = await this.events.append(entityManagerSql(txEm), staged);
      return value;
    });
    await this.events.committed(revision);
    return { value, revision };
  }

  /**
   * Reads in one transaction and answers the revision the result reflects, so that
   * list-then-watch from that revision has no gap. With one connection nothing can commit
   * between the reads.
   */
  async readConsistent<T extends object>(work: (em: EntityManager) => Promise<T>): Promise<T & { revision: number }> {
    return this.orm.em.fork().transactional(async (em) => {
      const value = await work(em);
      const [row] = await em.execute<Array<{ revision: number }>>('select coalesce(max(revision), 0) as revision from event');
      return { ...value, revision: row?.revision ?? 0 };
    });
  }
}
