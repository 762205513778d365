export interface BackoffPolicy {
  /** Upper bound of the first retry's delay. */
  baseMs: number;
  /** No delay is ever longer than this. */
  capMs: number;
}

/** Redials start fast and settle at a few seconds: an agent should rejoin soon after a restart. */
export const LINK_BACKOFF: BackoffPolicy = { baseMs: 100, capMs: 5000 };

/**
 * Exponential backoff with full jitter: a uniform delay in [0, min(cap, base * 2^attempt)).
 * Full jitter keeps a fleet of agents from redialling a restarted coordinator in lockstep.
 * `attempt` counts failures since the last successful handshake, from 0.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  // Clamp the exponent so 2^attempt never overflows into Infinity on a long outage.
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
