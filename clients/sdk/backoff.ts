import { delay, isAbortError } from 'abort-controller-x';
/** Exponential backoff between reconnect attempts. */
export interface BackoffOptions {
  /** Delay scale of the first retry (ms). */
  initialMs?: number;
  /** Cap on any one delay (ms). */
  maxMs?: number;
}

const DEFAULT_INITIAL_MS = 100;
const DEFAULT_MAX_MS = 5_000;

/**
 * Delay before retry number `attempt` (0-based): the exponential step, capped, with "equal
 * jitter" (half fixed, half random) so many clients dropped by one agent restart do not
 * reconnect in lockstep, yet none retries immediately.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random = Math.random): number {
  const initial = options.initialMs ?? DEFAULT_INITIAL_MS;
  const max = options.maxMs ?? DEFAULT_MAX_MS;
  const step = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return step / 2 + random() * (step / 2);
}

/** Waits `delayMs` before a retry; false when `signal` aborted the wait (stop retrying). */
export async function waitToRetry(signal: AbortSignal, delayMs: number): Promise<boolean> {
  try {
    await delay(signal, delayMs);
    return true;
  } catch (err) {
    if (isAbortError(err)) return false;
    throw err;
  }
}
