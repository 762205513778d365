import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from '../../common/logging.js';
import { WebhookOutboxSchema, type WebhookOutboxRow } from '../store/entities.js';
import type { CoordinatorOrm } from '../store/orm.js';
import type { Notification, NotificationType } from './notifications.js';

export interface WebhookSettings {
  /** Receivers (`--webhook`, repeatable); each gets every notification of `types`. */
  urls: string[];
  types: Set<NotificationType>;
  /** HMAC-SHA256 key (`--webhook-secret-file`): each body is signed with it when set. */
  secret: string | undefined;
  /** Longest wait between two attempts of one notification (default 5 minutes). */
  maxBackoffMs?: number | undefined;
}

export const SIGNATURE_HEADER = 'x-grove-signature-256';
export const DELIVERY_HEADER = 'x-grove-delivery';
export const EVENT_HEADER = 'x-grove-event';

const DEFAULT_MAX_BACKOFF_MS = 5 * 60_000;
const ATTEMPT_TIMEOUT_MS = 10_000;
const POLL_MS = 500;
const BATCH = 32;
// Longer than any attempt (ATTEMPT_TIMEOUT_MS) and its bookkeeping: a replica that dies
// mid-POST holds a row at most this long before another one sends it.
const LEASE_MS = 3 * ATTEMPT_TIMEOUT_MS;

/** Pure: how long to wait after the `attempts`-th failed attempt: 1 s, doubling, capped. */
export function retryDelayMs(attempts: number, maxMs: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempts - 1), maxMs);
}

/** `sha256=<hex>` of the body under the secret, as GitHub's X-Hub-Signature-256 spells it. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Checks `--webhook URL`: http or https, nothing else. */
export function checkWebhookUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`--webhook "${text.slice(0, 80)}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`--webhook "${text.slice(0, 80)}" must be an http:// or https:// URL`);
  }
  if (url.username || url.password) throw new Error('--webhook URLs carry no credentials: sign with --webhook-secret-file');
  return url.href;
}

/**
 * The durable webhook outbox. A notification is written once per receiver when the
 * coordinator sees what happened (a unique id per notification and receiver, so a repeat
 * is kept once), and is POSTed until the receiver answers 2xx: across receiver outages and
 * coordinator restarts, with backoff, in order per receiver. Delivery is at least once: a
 * crash between the receiver's answer and its row being marked sends it again, with the
 * same `X-Grove-Delivery` id for the receiver to drop.
 *
 * Replicas on one PostgreSQL share the outbox: each writes the same notification id (kept
 * once), and a row is POSTed only by the replica that leased it with a compare-and-swap.
 */
export class WebhookOutbox {
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private delivering: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private readonly maxBackoffMs: number;
  /** Who holds a lease: this process, among replicas. */
  private readonly leaseOwner = randomUUID();

  constructor(
    private readonly orm: CoordinatorOrm,
    private readonly settings: WebhookSettings,
    private readonly describeAgent: (agentId: string) => { id: string; name: string },
    private readonly log: Logger,
  ) {
    this.maxBackoffMs = settings.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  }

  get enabled(): boolean {
    return this.settings.urls.length > 0;
  }

  /** Queues the notification for every receiver that wants its type; writes stay in order. */
  record(notification: Notification): void {
    if (!this.enabled || !this.settings.types.has(notification.type)) return;
    this.writing = this.writing
      .then(() => this.insert(notification))
      .catch((err: unknown) => this.log.error({ err, notification: notification.id }, 'could not record a webhook notification'));
    void this.writing.then(() => this.kick());
  }

  private async insert(notification: Notification): Promise<void> {
    const body = JSON.stringify({
      id: notification.id,
      type: notification.type,
      time: notification.time.toISOString(),
      agent: this.describeAgent(notification.agentId),
      ...notification.subject,
    });
    const now = new Date();
    const rows = this.settings.urls.map((url) => ({
      notificationId: notification.id,
      url,
      type: notification.type,
      body,
      createdAt: now,
      attempts: 0,
      nextAttemptAt: now,
      deliveredAt: null,
      lastError: '',
      leaseOwner: '',
      leaseUntil: null,
    }));
    await this.orm.em.fork().createQueryBuilder(WebhookOutboxSchema).insert(rows).onConflict(['notificationId', 'url']).ignore().execute();
  }

  /** Delivers what is due now and every half second; rows for receivers no longer configured wait. */
  start(): void {
    if (!this.enabled) return;
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
    this.kick();
  }

  private kick(): void {
    if (this.delivering || this.stopping.signal.aborted) return;
    this.delivering = this.deliverDue()
      .catch((err: unknown) => this.log.error({ err }, 'webhook delivery round failed'))
      .finally(() => (this.delivering = undefined));
  }

  private async deliverDue(): Promise<void> {
    const em = this.orm.em.fork();
    const due = await em.find(
      WebhookOutboxSchema,
      { deliveredAt: null, url: { $in: this.settings.urls } },
      { orderBy: { id: 'asc' }, limit: BATCH * this.settings.urls.length },
    );
    const now = Date.now();
    // In order per receiver: a receiver's first undelivered row holds back its later ones.
    const blocked = new Set<string>();
    for (const row of due) {
      if (this.stopping.signal.aborted) return;
      if (blocked.has(row.url)) continue;
      if (row.nextAttemptAt.getTime() > now) {
        blocked.add(row.url);
        continue;
      }
      const leased = await this.lease(row);
      if (!leased || !(await this.attempt(leased))) blocked.add(row.url);
    }
  }

  /**
   * Claims the row for one attempt, unless it was delivered, is leased by another replica, or
   * was put off meanwhile (the read above may be stale): a compare-and-swap on the row.
   * Answers the row as it is now (another replica may have counted attempts), or nothing.
   */
  private async lease(row: WebhookOutboxRow): Promise<WebhookOutboxRow | undefined> {
    const now = new Date();
    const claimed = await this.orm.em
      .fork()
      .nativeUpdate(
        WebhookOutboxSchema,
        { id: row.id, deliveredAt: null, nextAttemptAt: { $lte: now }, $or: [{ leaseUntil: null }, { leaseUntil: { $lt: now } }] },
        { leaseOwner: this.leaseOwner, leaseUntil: new Date(now.getTime() + LEASE_MS) },
      );
    if (claimed !== 1) return undefined;
    return (await this.orm.em.fork().findOne(WebhookOutboxSchema, { id: row.id })) ?? undefined;
  }

  /** One POST; answers whether the receiver acknowledged it. */
  private async attempt(row: WebhookOutboxRow): Promise<boolean> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'grove-coordinator',
      [DELIVERY_HEADER]: row.notificationId,
      [EVENT_HEADER]: row.type,
    };
    if (this.settings.secret) headers[SIGNATURE_HEADER] = signBody(this.settings.secret, row.body);
    let failure: string;
    try {
      const response = await fetch(row.url, {
        method: 'POST',
        headers,
        body: row.body,
        redirect: 'manual',
        signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
      });
      await response.body?.cancel();
      if (response.status >= 200 && response.status < 300) {
        await this.orm.em
          .fork()
          .nativeUpdate(
            WebhookOutboxSchema,
            { id: row.id },
            { deliveredAt: new Date(), attempts: row.attempts + 1, lastError: '', leaseOwner: '', leaseUntil: null },
          );
        this.log.info({ notification: row.notificationId, url: row.url, type: row.type }, 'webhook delivered');
        return true;
      }
      failure = `answered ${response.status}`;
    } catch (err) {
      if (this.stopping.signal.aborted) {
        // Shutting down: tried again after the restart, or by another replica now.
        await this.release(row);
        return false;
      }
      failure = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
    }
    const attempts = row.attempts + 1;
    const delay = retryDelayMs(attempts, this.maxBackoffMs);
    await this.orm.em
      .fork()
      .nativeUpdate(
        WebhookOutboxSchema,
        { id: row.id },
        { attempts, lastError: failure, nextAttemptAt: new Date(Date.now() + delay), leaseOwner: '', leaseUntil: null },
      );
    this.log.warn(
      { notification: row.notificationId, url: row.url, attempts, retryInMs: delay, why: failure },
      'webhook not delivered; will retry',
    );
    return false;
  }

  private async release(row: WebhookOutboxRow): Promise<void> {
    await this.orm.em
      .fork()
      .nativeUpdate(WebhookOutboxSchema, { id: row.id, leaseOwner: this.leaseOwner }, { leaseOwner: '', leaseUntil: null })
      .catch((err: unknown) => this.log.warn({ err }, 'could not release a webhook lease; it runs out by itself'));
  }

  /** Stops delivering; what was not acknowledged is sent after the next start. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.stopping.abort();
    await this.delivering;
    await this.writing;
  }
}
