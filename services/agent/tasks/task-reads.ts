import type { EntityManager } from '@mikro-orm/sqlite';
import { TaskState, type Task } from '../../../gen/grove/agent/v1/resources.js';
import { sessionActivity, type TaskActivityName } from '../domain/task-activity.js';
import { checkedEnumFilter } from '../../common/enum-filter.js';
import { invalidArgument, notFound } from '../../common/errors.js';
import { isWellFormedId } from '../../common/ids.js';
import { decodePageToken, pageSize, takePage } from '../../common/paging.js';
import type { SessionService } from '../sessions/session-service.js';
import { TaskSchema, type TaskRow } from '../store/entities.js';
import type { Store } from '../store/store.js';
import { taskStateFromProto, toTaskProto } from './task-mapper.js';
import { MAX_LOG_READ, readLogChunk } from './task-logs.js';

/** How often a followed log is re-read while its task runs and has nothing new. */
const FOLLOW_POLL_MS = 100;

/** Reads of tasks and their logs. Nothing here writes: not the database, not the disk. */
export class TaskReads {
  constructor(
    private readonly store: Store,
    private readonly sessions: SessionService,
  ) {}

  /** Session activity comes from here: WORKING iff a task of the session is RUNNING. */
  static async isWorking(em: EntityManager, sessionId: string): Promise<boolean> {
    return (await em.count(TaskSchema, { sessionId, state: 'RUNNING' })) > 0;
  }

  /** A session's activity: NEEDS_INPUT if a running task waits for a person, else WORKING if one runs. */
  static async activityOf(em: EntityManager, sessionId: string): Promise<TaskActivityName> {
    const running = await em.find(TaskSchema, { sessionId, state: 'RUNNING' }, { fields: ['activity'] });
    return sessionActivity(running.map((t) => t.activity || 'WORKING'));
  }

  /** Tasks running and waiting now, across sessions. */
  static async load(em: EntityManager): Promise<{ runningTasks: number; queuedTasks: number }> {
    const [runningTasks, queuedTasks] = await Promise.all([
      em.count(TaskSchema, { state: 'RUNNING' }),
      em.count(TaskSchema, { state: 'QUEUED' }),
    ]);
    return { runningTasks, queuedTasks };
  }

  async get(id: string): Promise<Task> {
    return toTaskProto(await this.find(id));
  }

  /** The task's row, after checking the id: INVALID_ARGUMENT or NOT_FOUND otherwise. */
  async find(id: string): Promise<TaskRow> {
    if (!id) throw invalidArgument('TASK_REQUIRED', 'a task id is required');
    if (!isWellFormedId('tsk', id)) throw invalidArgument('BAD_TASK_ID', `"${id.slice(0, 64)}" is not a task id`);
    const row = await this.store.read().findOne(TaskSchema, { id });
    if (!row) throw notFound('TASK_NOT_FOUND', `no task "${id}" on this agent`);
    return row;
  }

  async list(request: { sessionId: string; pageSize: number; pageToken: string; state: number }) {
    const size = pageSize(request.pageSize);
    const after = decodePageToken(request.pageToken);
    const state = checkedEnumFilter(TaskState, request.state, 'state') ? taskStateFromProto(request.state) : undefined;
    if (request.sessionId) await this.sessions.get(request.sessionId);
    return this.store.readConsistent(async (em) => {
      const rows = await em.find(
        TaskSchema,
        {
          ...(request.sessionId ? { sessionId: request.sessionId } : {}),
          ...(state ? { state } : {}),
          ...(after ? { id: { $gt: after } } : {}),
        },
        { orderBy: { id: 'asc' }, limit: size + 1 },
      );
      const { page, nextPageToken } = takePage(rows, size, (t) => t.id);
      return { tasks: page.map(toTaskProto), nextPageToken };
    });
  }

  /** Reads the log from a logical offset (bytes since the task began, dropped head included). */
  async readLog(id: string, offset: number, limit: number): Promise<{ data: Buffer; nextOffset: number; eof: boolean }> {
    if (offset < 0 || limit < 0) throw invalidArgument('BAD_RANGE', 'offset and limit must not be negative');
    const task = await this.find(id);
    return readLogChunk(task, offset, Math.min(limit || 64 * 1024, MAX_LOG_READ));
  }

  /** Streams the log from `offset` until the task has ended and everything was sent. */
  async *followLog(id: string, offset: number, signal: AbortSignal): AsyncGenerator<{ data: Buffer; offset: number }> {
    let cursor = offset;
    await this.find(id);
    while (!signal.aborted) {
      const task = await this.find(id);
      const chunk = readLogChunk(task, cursor, MAX_LOG_READ);
      if (chunk.data.length > 0) yield { data: chunk.data, offset: cursor };
      cursor = chunk.nextOffset;
      if (chunk.eof) return;
      if (chunk.data.length === 0) await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    }
  }
}
