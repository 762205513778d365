import { Event } from '../../../gen/grove/agent/v1/resources.js';
import { outOfRange } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import { readerSql, type Sql } from '../../common/plain-sql.js';
import type { AgentEventType } from '../domain/event-types.js';
import type { AgentOrm } from './orm.js';

/** An event before it has a revision: the caller says what changed, the log numbers it. */
export type EventDraft = Pick<Event, 'resource' | 'payload'> & { type: AgentEventType; deleted?: boolean };

export interface RevisionBounds {
  /** Oldest revision still retained (newest + 1 when the log is empty). */
  oldest: number;
  /** Newest revision written, 0 before the first event. */
  newest: number;
}

const READ_BATCH = 500;
// Events per insert statement: 4 parameters each, far below SQLite's limit of 32,766.
const APPEND_BATCH = 500;

/**
 * The agent's append-only event log (an outbox in the same database as the state).
 * Events are staged in the caller's transaction by `stage` and become visible when it
 * commits; `committed` then wakes watchers, which re-read from the database. Watchers never
 * trust in-memory order, so a commit can never be seen out of revision order or skipped.
 */
export class EventLog {
  private generation = 0;
  private waiters: Array<() => void> = [];
  /** Kept in memory (loaded once, then maintained on commit and compaction): read on hot paths. */
  private cached: RevisionBounds | undefined;
  private readonly reads: Sql;

  constructor(
    private readonly orm: AgentOrm,
    private readonly log: Logger,
    /** How many of the newest events are kept; older ones are compacted away. */
    private readonly retention: number,
  ) {
    this.reads = readerSql(orm);
  }

  /**
   * Appends the events of a unit of work, in order, inside its transaction (`sql` is the
   * transaction's), answering the newest revision. Plain inserts: every change of the agent
   * writes its events here, and an entity per event cost more than the change itself.
   */
  async append(sql: Sql, drafts: readonly EventDraft[]): Promise<number> {
    let newest = 0;
    for (let from = 0; from < drafts.length; from += APPEND_BATCH) {
      const rows = drafts.slice(from, from + APPEND_BATCH).map((draft) => {
        const time = new Date();
        const payload = Event.encode({
          revision: 0,
          type: draft.type,
          resource: draft.resource,
          time,
          deleted: draft.deleted ?? false,
          payload: draft.payload,
        }).finish();
        return [draft.type, draft.resource, time.getTime(), Buffer.from(payload)];
      });
      // One statement per batch; rows get consecutive revisions in order, the last one's is answered.
      const result = await sql.run(
        `insert into event (type, resource, time, payload) values ${rows.map(() => '(?, ?, ?, ?)').join(', ')}`,
        rows.flat(),
      );
      newest = result.lastId;
    }
    return newest;
  }

  /** Called after a transaction commits, with the newest revision it wrote (0 for none). */
  async committed(newestWritten: number): Promise<void> {
    if (newestWritten === 0) return;
    const bounds = await this.bounds();
    this.cached = { oldest: Math.min(bounds.oldest, newestWritten), newest: Math.max(bounds.newest, newestWritten) };
    this.generation++;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
    await this.compact();
  }

  async bounds(): Promise<RevisionBounds> {
    this.cached ??= await this.readBounds();
    return { ...this.cached };
  }

  private async readBounds(): Promise<RevisionBounds> {
    const conn = this.orm.em.getConnection();
    const [row] = await conn.execute<Array<{ oldest: number | null; newest: number | null }>>(
      'select min(revision) as oldest, max(revision) as newest from event',
    );
    if (row?.newest != null && row.oldest != null) return { oldest: row.oldest, newest: row.newest };
    // Empty table: the sequence still knows the last revision ever handed out.
    const [seq] = await conn.execute<Array<{ seq: number }>>("select seq from sqlite_sequence where name = 'event'");
    const newest = seq?.seq ?? 0;
    return { oldest: newest + 1, newest };
  }

  /**
   * Events with revision > after, oldest first, at most `limit`. Every watcher (the
   * coordinator link among them) reads here after every commit, so the rows are read plain,
   * not hydrated into entities nobody keeps: each event is already its encoded message.
   */
  async readAfter(after: number, limit = READ_BATCH): Promise<Event[]> {
    const rows = await this.reads.all<{ revision: number; payload: Buffer }>(
      'select revision, payload from event where revision > ? order by revision limit ?',
      [after, limit],
    );
    return rows.map((row) => ({ ...Event.decode(row.payload), revision: row.revision }));
  }

  /**
   * Streams events after `after`: the retained backlog, then live ones, until `signal`
   * aborts. A revision that was compacted (or is ahead of the log) answers OUT_OF_RANGE,
   * telling the client to list again and watch from the list's revision.
   */
  async *watch(after: number, signal: AbortSignal): AsyncGenerator<Event> {
    let cursor = after;
    const { oldest, newest } = await this.bounds();
    if (after > newest) {
      throw outOfRange('REVISION_AHEAD', `revision ${after} is ahead of this agent's newest revision ${newest}; list again`);
    }
    while (!signal.aborted) {
      const seen = this.generation;
      const batch = await this.readAfter(cursor);
      const first = batch[0];
      if (first && first.revision !== cursor + 1) {
        throw this.compacted(cursor, first.revision);
      }
      if (!first && cursor < oldest - 1) throw this.compacted(cursor, oldest);
      for (const event of batch) {
        yield event;
        cursor = event.revision;
      }
      if (batch.length < READ_BATCH) await this.changedSince(seen, signal);
    }
  }

  private compacted(after: number, oldest: number) {
    return outOfRange(
      'REVISION_COMPACTED',
      `revision ${after} is compacted; the oldest retained revision is ${oldest}; list again and watch from the list's revision`,
    );
  }

  private changedSince(generation: number, signal: AbortSignal): Promise<void> {
    if (this.generation !== generation || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        signal.removeEventListener('abort', wake);
        resolve();
      };
      this.waiters.push(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  private async compact(): Promise<void> {
    const { oldest, newest } = await this.bounds();
    const cutoff = newest - this.retention;
    if (cutoff < oldest) return;
    await this.orm.em.getConnection().execute('delete from event where revision <= ?', [cutoff], 'run');
    this.cached = { oldest: cutoff + 1, newest };
    this.log.debug({ cutoff }, 'event log compacted');
  }
}
