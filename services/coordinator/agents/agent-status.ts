/** How reachable an agent is, as the coordinator derives it; see README "Agent status". */
export type AgentStatusName = 'connected' | 'disconnected' | 'unknown';

export interface StatusPolicy {
  /** A link silent for longer than this no longer counts as connected. */
  graceMs: number;
  /** An agent silent for longer than this is unknown: nothing it reported can be trusted. */
  ttlMs: number;
}

export interface AgentLiveness {
  /** A link stream from the agent is open right now. */
  linkOpen: boolean;
  /** Last time any message arrived from the agent; undefined if never. */
  lastSeen: Date | undefined;
}

export const DEFAULT_STATUS_POLICY: StatusPolicy = { graceMs: 6000, ttlMs: 30_000 };

/**
 * CONNECTED needs both an open link and recent traffic: a half-open TCP connection keeps a
 * stream "open" long after the agent died, so silence alone demotes it. Pure: `now` is given.
 */
export function deriveAgentStatus(liveness: AgentLiveness, now: number, policy: StatusPolicy): AgentStatusName {
  if (!liveness.lastSeen) return 'unknown';
  const silentMs = now - liveness.lastSeen.getTime();
  if (liveness.linkOpen && silentMs <= policy.graceMs) return 'connected';
  if (silentMs <= policy.ttlMs) return 'disconnected';
  return 'unknown';
}
