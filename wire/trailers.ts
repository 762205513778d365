/** Response trailers Grove services set and its clients read: the wire contract beside the protos. */

/** The machine-readable reason of a failed call (see reasons.ts). */
export const REASON_TRAILER = 'grove-reason';

/** On a watch cut off as a slow subscriber: the last coordinator revision it delivered. */
export const LAST_REVISION_TRAILER = 'grove-last-revision';

/** On a routed call: the id of the agent that ran it. */
export const ROUTED_AGENT_TRAILER = 'grove-agent-id';
