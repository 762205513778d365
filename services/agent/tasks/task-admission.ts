import { KeyedMutex } from '../../common/keyed-mutex.js';
import type { Logger } from '../../common/logging.js';
import { admittedSessions } from '../domain/admission.js';
import { TaskSchema } from '../store/entities.js';
import type { Store } from '../store/store.js';

/**
 * `--max-running-tasks`: at most `max` tasks run at once across sessions; the others wait
 * QUEUED and the sessions waiting longest start first (domain/admission.ts). Counting,
 * deciding and launching are one step under a lock, so two sessions never take one slot.
 * Everything is read from the database, so the order survives an agent restart.
 */
export class TaskAdmission {
  private readonly lock = new KeyedMutex();

  constructor(
    private readonly store: Store,
    private readonly max: number,
    private readonly log: Logger,
  ) {}

  /** Runs `launch` if the session may start its next task now; without a bound, always. */
  async launchIfAdmitted(sessionId: string, launch: () => Promise<void>): Promise<void> {
    if (this.max <= 0) return launch();
    await this.lock.run('agent', async () => {
      if ((await this.admitted()).has(sessionId)) await launch();
    });
  }

  /** Calls `kick` for each session that may start now, after a slot came free. */
  waitingLongest(kick: (sessionId: string) => void): void {
    if (this.max <= 0) return;
    void this.admitted()
      .then((sessions) => sessions.forEach(kick))
      .catch((err: unknown) => this.log.error({ err }, 'admitting queued tasks failed'));
  }

  private async admitted(): Promise<Set<string>> {
    const em = this.store.read();
    const running = await em.count(TaskSchema, { state: 'RUNNING' });
    const rows = await em.execute<Array<{ session_id: string; at: string | number; first_id: string }>>(
      `select session_id, min(created_at) as at, min(id) as first_id from task
       where state = 'QUEUED' and session_id not in (select session_id from task where state = 'RUNNING')
       group by session_id`,
    );
    const waiting = rows.map((r) => ({ sessionId: r.session_id, oldestQueuedAt: new Date(r.at), oldestQueuedId: r.first_id }));
    return admittedSessions(waiting, running, this.max);
  }
}
