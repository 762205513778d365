import type { Hello } from '../../../gen/grove/link/v1/link.js';
import type { Logger } from '../../common/logging.js';
import { AgentSchema, type AgentRow } from '../store/entities.js';
import { dialectOf, type CoordinatorOrm, type SqlDialect } from '../store/orm.js';

/** What the coordinator remembers about an agent, link or no link. */
export interface AgentRecord {
  id: string;
  name: string;
  labels: Record<string, string>;
  version: string;
  helloRevision: number;
  firstSeen: Date;
  lastSeen: Date;
  connectedAt: Date | undefined;
  disconnectedAt: Date | undefined;
  /** How the current or last link joined (the resume plan); in memory, since this start. */
  linkJoined: string;
  /** Why the last link ended; in memory, since this start. */
  linkEnded: string;
  /** The agent's --max-running-tasks as its last Hello said (0: no bound); in memory. */
  maxRunningTasks: number;
  /** Free bytes on the agent's worktree file system, from its last hello or heartbeat; in memory. */
  freeDiskBytes: number;
}

// last_seen moves with every message; writing it through would cost a transaction per
// heartbeat per agent. Writing behind loses at most this much after a crash, which the
// status derivation (seconds of grace, tens of TTL) does not notice.
const FLUSH_INTERVAL_MS = 1000;

// Rows per UPDATE statement: well under SQLite's limit on bound parameters.
const FLUSH_BATCH = 200;

/**
 * One statement for many agents' last_seen: a fleet heartbeats every agent every second, and
 * an ORM update per row would keep the event loop busy for tens of milliseconds each flush.
 * SQLite keeps dates as epoch milliseconds (as MikroORM stores them there); PostgreSQL takes
 * a timestamptz.
 */
function lastSeenUpdate(rows: Array<{ id: string; lastSeen: Date }>, dialect: SqlDialect): [string, unknown[], 'run'] {
  const value = dialect === 'sqlite' ? '?' : 'cast(? as timestamptz)';
  const cases = rows.map(() => `when ? then ${value}`).join(' ');
  const ids = rows.map(() => '?').join(', ');
  const time = (date: Date) => (dialect === 'sqlite' ? date.getTime() : date.toISOString());
  return [
    `update agent set last_seen = case id ${cases} end where id in (${ids})`,
    [...rows.flatMap((row) => [row.id, time(row.lastSeen)]), ...rows.map((row) => row.id)],
    'run',
  ];
}

/**
 * The agent registry: every agent that ever said Hello, in memory for reads and in the database
 * so it survives restarts. Liveness (is a link open?) is not stored: the link hub knows it.
 */
export class AgentRegistry {
  private readonly records = new Map<string, AgentRecord>();
  private readonly unflushed = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly orm: CoordinatorOrm,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  static async load(orm: CoordinatorOrm, log: Logger): Promise<AgentRegistry> {
    const registry = new AgentRegistry(orm, log);
    const rows = await orm.em.fork().find(AgentSchema, {}, { orderBy: { id: 'asc' } });
    for (const row of rows) registry.records.set(row.id, toRecord(row));
    log.info({ agents: rows.length }, 'agent registry loaded');
    return registry;
  }

  /** Sorted by id: ids are time-ordered, so pages follow registration order. */
  list(): AgentRecord[] {
    return [...this.records.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get(id: string): AgentRecord | undefined {
    return this.records.get(id);
  }

  /** Agents matching an id, or failing that a name (names need not be unique). */
  lookup(idOrName: string): AgentRecord[] {
    const byId = this.records.get(idOrName);
    if (byId) return [byId];
    return this.list().filter((record) => record.name === idOrName);
  }

  /** A link said Hello: registers the agent, or refreshes what it says about itself. */
  async connected(hello: Hello, now: Date): Promise<AgentRecord> {
    const previous = this.records.get(hello.agentId);
    const record: AgentRecord = {
      id: hello.agentId,
      name: hello.name,
      labels: { ...hello.labels },
      version: hello.version,
      helloRevision: hello.revision,
      firstSeen: previous?.firstSeen ?? now,
      lastSeen: now,
      connectedAt: now,
      disconnectedAt: undefined,
      linkJoined: '',
      linkEnded: previous?.linkEnded ?? '',
      maxRunningTasks: hello.maxRunningTasks,
      freeDiskBytes: hello.freeDiskBytes,
    };
    this.records.set(record.id, record);
    this.unflushed.delete(record.id);
    await this.orm.em.fork().upsert(AgentSchema, {
      id: record.id,
      name: record.name,
      labels: record.labels,
      version: record.version,
      helloRevision: record.helloRevision,
      firstSeen: record.firstSeen,
      lastSeen: record.lastSeen,
      connectedAt: now,
      disconnectedAt: null,
    });
    return record;
  }

  /** A heartbeat's reading of the agent's free disk. */
  freeDisk(agentId: string, bytes: number): void {
    const record = this.records.get(agentId);
    if (record) record.freeDiskBytes = bytes;
  }

  /** Any message from the agent: it is alive now. Persisted behind (see FLUSH_INTERVAL_MS). */
  heard(agentId: string, now: Date): void {
    const record = this.records.get(agentId);
    if (!record || record.lastSeen.getTime() >= now.getTime()) return;
    record.lastSeen = now;
    this.unflushed.add(agentId);
  }

  /** The link's resume plan was chosen: how it joins. */
  joined(agentId: string, how: string): void {
    const record = this.records.get(agentId);
    if (record) record.linkJoined = how;
  }

  async disconnected(agentId: string, now: Date, why: string): Promise<void> {
    const record = this.records.get(agentId);
    if (!record) return;
    record.disconnectedAt = now;
    record.linkEnded = why;
    // Links that end after close() (the coordinator shutting down under them) are not written:
    // the database may be closed by then, and a row left "connected" reads as a crash did.
    if (this.closed) return;
    this.unflushed.delete(agentId);
    await this.orm.em.fork().nativeUpdate(AgentSchema, { id: agentId }, { lastSeen: record.lastSeen, disconnectedAt: now });
  }

  /** Writes the last_seen times that moved since the previous flush. Never throws. */
  flush(): Promise<void> {
    // Chained, so two flushes never interleave and close() can wait for the last one.
    this.flushing = this.flushing.then(async () => {
      if (this.unflushed.size === 0) return;
      const ids = [...this.unflushed];
      this.unflushed.clear();
      try {
        for (let i = 0; i < ids.length; i += FLUSH_BATCH) {
          const batch = ids.slice(i, i + FLUSH_BATCH).flatMap((id) => {
            const record = this.records.get(id);
            return record ? [{ id, lastSeen: record.lastSeen }] : [];
          });
          if (batch.length > 0) await this.orm.em.fork().execute(...lastSeenUpdate(batch, dialectOf(this.orm)));
        }
      } catch (err) {
        this.log.error({ err, agents: ids.length }, 'could not record last-seen times');
        for (const id of ids) this.unflushed.add(id);
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.closed = true;
    await this.flush();
  }
}

function toRecord(row: AgentRow): AgentRecord {
  return {
    id: row.id,
    name: row.name,
    labels: row.labels ?? {},
    version: row.version,
    helloRevision: row.helloRevision,
    firstSeen: row.firstSeen,
    lastSeen: row.lastSeen,
    connectedAt: row.connectedAt ?? undefined,
    disconnectedAt: row.disconnectedAt ?? undefined,
    linkJoined: '',
    linkEnded: '',
    maxRunningTasks: 0,
    freeDiskBytes: 0,
  };
}
