import { basename, join } from 'node:path';
import { newId } from '../../common/ids.js';
import { nextTaskState } from '../domain/task-lifecycle.js';
import { setupStateFor } from '../domain/worktree-lifecycle.js';
import { SessionSchema, TaskSchema } from '../store/entities.js';
import type { Tx } from '../store/store.js';
import type { SetupStep } from '../sessions/worktree-setup.js';
import { createQueuedTask, emitTask } from './task-rows.js';

/**
 * Queues a session's setup commands (new or restored worktrees) as its next tasks, in the
 * transaction that makes it SETTING_UP: a session is never SETTING_UP without the tasks that
 * will end it.
 */
export async function queueSetupTasks(tx: Tx, sessionId: string, steps: readonly SetupStep[], tasksDir: string): Promise<void> {
  // After the session's last task: a restored session has tasks already.
  const last = await tx.em.findOne(TaskSchema, { sessionId }, { orderBy: { seq: 'desc' } });
  const first = (last?.seq ?? 0) + 1;
  steps.forEach((step, index) => {
    const id = newId('tsk');
    createQueuedTask(tx, {
      id,
      sessionId,
      seq: first + index,
      prompt: '',
      argv: ['/bin/sh', '-c', step.command],
      env: {},
      repoId: step.repoId,
      cwd: step.cwd,
      runDir: join(tasksDir, id),
      requestId: null,
      tty: false,
      cols: 0,
      rows: 0,
      profile: '',
      setup: true,
    });
  });
}

/**
 * After a setup task ended (or at start-up): a SETTING_UP session becomes ACTIVE once all its
 * setup tasks succeeded, or SETUP_FAILED when one did not; then its queued tasks are
 * cancelled, since they were meant for a worktree that is set up. Answers the new state, or
 * undefined when nothing changed.
 */
export async function settleSetup(tx: Tx, sessionId: string): Promise<'ACTIVE' | 'SETUP_FAILED' | undefined> {
  const session = await tx.em.findOne(SessionSchema, { id: sessionId });
  if (session?.state !== 'SETTING_UP') return undefined;
  const steps = await tx.em.find(TaskSchema, { sessionId, setup: true }, { orderBy: { seq: 'asc' } });
  const next = setupStateFor(steps.map((t) => t.state));
  if (next === 'SETTING_UP') return undefined;
  session.state = next;
  session.updatedAt = new Date();
  if (next === 'SETUP_FAILED') {
    const failed = steps.find((t) => t.state !== 'SUCCEEDED' && t.state !== 'QUEUED' && t.state !== 'RUNNING')!;
    const how = failed.exitCode !== null ? `exited with ${failed.exitCode}` : failed.reason || failed.state.toLowerCase();
    session.lastError = `setup of the ${basename(failed.cwd)} worktree ${how}; its log: grove task logs ${failed.id}`;
    for (const queued of await tx.em.find(TaskSchema, { sessionId, state: 'QUEUED' })) {
      Object.assign(queued, {
        state: nextTaskState(queued.state, 'cancel_queued'),
        reason: "cancelled: the session's setup failed",
        endedAt: new Date(),
      });
      emitTask(tx, queued, 'task.ended');
    }
  }
  await tx.em.flush();
  return next;
}
