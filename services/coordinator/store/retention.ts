import type { Logger } from '../../common/logging.js';
import { CommandAuditSchema, WebhookOutboxSchema } from './entities.js';
import type { CoordinatorOrm } from './orm.js';

export interface CoordinatorRetention {
  /** Command audit rows kept, newest first (`--audit-retention`). */
  auditRows: number;
  /** Command audit rows older than this are dropped (`--audit-max-age`). */
  auditMaxAgeMs: number;
}

export const DEFAULT_RETENTION: CoordinatorRetention = { auditRows: 100_000, auditMaxAgeMs: 30 * 24 * 3600_000 };

// A delivered notification is kept this long: enough to see what was sent, not forever.
const DELIVERED_KEPT_MS = 24 * 3600_000;
const COMPACT_EVERY_MS = 60_000;

/**
 * Keeps the coordinator's own records bounded: the command audit by count and age, and
 * delivered webhook notifications for a day. Undelivered notifications are never dropped:
 * they wait for their receiver. A command still in flight keeps its row.
 */
export async function compactCoordinatorStore(
  orm: CoordinatorOrm,
  retention: CoordinatorRetention,
): Promise<{ audit: number; outbox: number }> {
  const em = orm.em.fork();
  const cutoff = new Date(Date.now() - retention.auditMaxAgeMs);
  let audit = await em.nativeDelete(CommandAuditSchema, { requestedAt: { $lt: cutoff }, completedAt: { $ne: null } });
  const [newestKept] = await em.find(
    CommandAuditSchema,
    {},
    { orderBy: { id: 'desc' }, offset: retention.auditRows - 1, limit: 1, fields: ['id'] },
  );
  if (newestKept) audit += await em.nativeDelete(CommandAuditSchema, { id: { $lt: newestKept.id }, completedAt: { $ne: null } });
  const outbox = await em.nativeDelete(WebhookOutboxSchema, { deliveredAt: { $lt: new Date(Date.now() - DELIVERED_KEPT_MS) } });
  return { audit, outbox };
}

/** Compacts now (before serving) and then every minute, in the background; answers a stop function. */
export async function startCompaction(orm: CoordinatorOrm, retention: CoordinatorRetention, log: Logger): Promise<() => Promise<void>> {
  let running: Promise<void> = Promise.resolve();
  const run = () => {
    running = compactCoordinatorStore(orm, retention)
      .then((dropped) => {
        if (dropped.audit + dropped.outbox > 0) log.info(dropped, 'coordinator records compacted');
      })
      .catch((err: unknown) => log.error({ err }, 'compacting coordinator records failed'));
  };
  run();
  await running;
  const timer = setInterval(run, COMPACT_EVERY_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
