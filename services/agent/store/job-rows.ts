import type { Sql } from '../../common/plain-sql.js';
import type { JobRow } from './entities.js';

/**
 * The job table's hot statements written by hand, in plain SQL (`Store.write`, `Store.reads`):
 * a job's insert, the read and update of each change of its state, and the scheduler's look
 * at the queue. Every job pays for them (queued, started, ended; the queue is read on each
 * submission and each end), and through MikroORM's unit of work they cost about 3 ms of CPU
 * per transaction here, five times the same statements. Everything else about jobs stays on
 * the entity (JobSchema).
 * Values are stored as MikroORM stores them: dates as epoch milliseconds, booleans as 0/1,
 * JSON as text.
 */
type Field = Extract<keyof JobRow, string>;

const COLUMNS = {
  id: 'id',
  kind: 'kind',
  state: 'state',
  repoId: 'repo_id',
  branch: 'branch',
  base: 'base',
  sessionId: 'session_id',
  sessionIds: 'session_ids',
  idempotencyKey: 'idempotency_key',
  progressPercent: 'progress_percent',
  progressMessage: 'progress_message',
  result: 'result',
  error: 'error',
  attempts: 'attempts',
  cancelRequested: 'cancel_requested',
  plan: 'plan',
  createdAt: 'created_at',
  startedAt: 'started_at',
  endedAt: 'ended_at',
} as const satisfies { [K in Field]-?: string };

type Column = (typeof COLUMNS)[keyof typeof COLUMNS];
type StoredJob = Record<Column, string | number | null>;

function stored(value: unknown): string | number | null {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return value as string | number | null;
}

const date = (value: string | number | null) => (value === null ? null : new Date(value));

function fromStored(raw: StoredJob): JobRow {
  return {
    id: raw.id as string,
    kind: raw.kind as JobRow['kind'],
    state: raw.state as JobRow['state'],
    repoId: raw.repo_id as string,
    branch: raw.branch as string,
    base: raw.base as string,
    sessionId: raw.session_id as string,
    sessionIds: JSON.parse(raw.session_ids as string) as string[],
    idempotencyKey: raw.idempotency_key as string | null,
    progressPercent: raw.progress_percent as number,
    progressMessage: raw.progress_message as string,
    result: raw.result as string,
    error: raw.error as string,
    attempts: raw.attempts as number,
    cancelRequested: raw.cancel_requested === 1,
    plan: JSON.parse(raw.plan as string) as JobRow['plan'],
    createdAt: date(raw.created_at)!,
    startedAt: date(raw.started_at),
    endedAt: date(raw.ended_at),
  };
}

export async function insertJob(sql: Sql, row: JobRow): Promise<void> {
  const keys = Object.keys(COLUMNS) as Field[];
  await sql.run(
    `insert into job (${keys.map((k) => COLUMNS[k]).join(', ')}) values (${keys.map(() => '?').join(', ')})`,
    keys.map((k) => stored(row[k])),
  );
}

export async function readJob(sql: Sql, id: string): Promise<JobRow | undefined> {
  const [raw] = await sql.all<StoredJob>('select * from job where id = ?', [id]);
  return raw ? fromStored(raw) : undefined;
}

/** The job holding an idempotency key, if any. */
export async function jobByIdempotencyKey(sql: Sql, key: string): Promise<JobRow | undefined> {
  const [raw] = await sql.all<StoredJob>('select * from job where idempotency_key = ?', [key]);
  return raw ? fromStored(raw) : undefined;
}

export async function updateJob(sql: Sql, id: string, changes: Partial<Omit<JobRow, 'id'>>): Promise<void> {
  const keys = (Object.keys(changes) as Array<Exclude<Field, 'id'>>).filter((k) => k in COLUMNS && changes[k] !== undefined);
  if (keys.length === 0) return;
  await sql.run(`update job set ${keys.map((k) => `${COLUMNS[k]} = ?`).join(', ')} where id = ?`, [
    ...keys.map((k) => stored(changes[k])),
    id,
  ]);
}

/**
 * The oldest queued jobs, only what scheduling needs (on the reader connection, given
 * `Store.reads`). Each start re-reads its row in its own transaction, so this need not be exact.
 */
export async function queuedJobs(sql: Sql, limit: number): Promise<Array<Pick<JobRow, 'id' | 'repoId' | 'createdAt'>>> {
  const rows = await sql.all<{ id: string; repo_id: string; created_at: string | number }>(
    `select id, repo_id, created_at from job where state = 'QUEUED' order by created_at, id limit ?`,
    [limit],
  );
  return rows.map((r) => ({ id: r.id, repoId: r.repo_id, createdAt: date(r.created_at)! }));
}
