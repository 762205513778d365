import type { EntityManager } from '@mikro-orm/sqlite';
import type { EventDraft, EventLog } from './event-log.js';
import type { AgentOrm } from './orm.js';

/** What a unit of work gets: its EntityManager and a way to record events in it. */
export interface Tx {
  em: EntityManager;
  emit(draft: EventDraft): void;
}

/**
 * The only way agent code changes state: the change and its events commit in one
 * transaction, then watchers are woken. Inside `work`, every query must go through `tx.em`:
 * the database has one connection, so a query on another EntityManager would wait forever.
 */
export class Store {
  constructor(
    readonly orm: AgentOrm,
    readonly events: EventLog,
  ) {}

  /** A fresh EntityManager for reads; never shared between calls. */
  read(): EntityManager {
    return this.orm.em.fork();
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
      revision = await this.events.append(txEm, staged);
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
