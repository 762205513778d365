import type { Logger } from '../../common/logging.js';
import type { AgentContext } from '../agent-context.js';

export interface LinkOptions {
  /** host:port of the coordinator. */
  coordinator: string;
  token?: string | undefined;
  /** CA to verify the coordinator's TLS certificate; plaintext when absent. */
  caFile?: string | undefined;
  context: AgentContext;
  heartbeatMs?: number | undefined;
  log: Logger;
}

export interface RunningLink {
  close(): Promise<void>;
}

/** Placeholder until the link is built: see the coordinator work. */
export function startLink(options: LinkOptions): RunningLink {
  options.log.warn('coordinator link not built yet');
  return { async close() {} };
}
