import { rm } from 'node:fs/promises';
import { isFinished } from '../domain/task-lifecycle.js';
import { TaskSchema } from '../store/entities.js';
import type { Store } from '../store/store.js';
import { taskResource, toTaskProto } from './task-mapper.js';

/**
 * Keeps the newest `keep` tasks of a session: older finished ones are deleted (with a
 * task.deleted event each) and their run directories removed. Unfinished ones are never
 * touched, however old.
 */
export async function dropOldTasks(store: Store, sessionId: string, keep: number): Promise<void> {
  const old = await store.read().find(TaskSchema, { sessionId }, { orderBy: { seq: 'desc' }, offset: keep, limit: 10_000 });
  const doomed = old.filter((t) => isFinished(t.state));
  if (doomed.length === 0) return;
  await store.transact(async (tx) => {
    await tx.em.nativeDelete(TaskSchema, { id: { $in: doomed.map((t) => t.id) } });
    for (const task of doomed) {
      tx.emit({
        type: 'task.deleted',
        resource: taskResource(task.id),
        deleted: true,
        payload: { $case: 'task', value: toTaskProto(task) },
      });
    }
  });
  for (const task of doomed) await rm(task.runDir, { recursive: true, force: true });
}
