import { readTokenFile } from '../../services/common/auth.js';
import { parseDuration } from '../../services/common/duration.js';
import { UsageError } from './usage-error.js';
import type { GroveClientOptions } from '@grove/sdk';
import type { GlobalValues } from './args.js';
import type { CliIo } from './cli-io.js';

// The addresses `grove agent serve` and `grove coordinator serve` bind by default.
export const DEFAULT_AGENT = '127.0.0.1:7420';
export const DEFAULT_COORDINATOR = '127.0.0.1:7421';

/** Calls that may move many files (kill, cleanup, restore, apply) wait this long by default. */
export const LONG_CALL_DEADLINE_MS = 10 * 60_000;

/** What a verb waits for: `--timeout`, else `fallbackMs` (the SDK's default when undefined). */
function deadlineOf(values: GlobalValues, fallbackMs: number | undefined): number | undefined {
  if (values.timeout === undefined) return fallbackMs;
  try {
    return parseDuration(values.timeout);
  } catch (err) {
    throw new UsageError(`--timeout: ${(err as Error).message}`);
  }
}

function credentials(values: GlobalValues, fallbackDeadlineMs?: number): Omit<GroveClientOptions, 'address'> {
  return {
    token: values['token-file'] ? readTokenFile(values['token-file']) : undefined,
    tls: values['tls-ca'] ? { caFile: values['tls-ca'] } : undefined,
    defaultDeadlineMs: deadlineOf(values, fallbackDeadlineMs),
  };
}

/** The agent a verb talks to: `--agent`, else GROVE_AGENT, else the local default. */
export function agentTarget(values: GlobalValues, io: CliIo, fallbackDeadlineMs?: number): GroveClientOptions {
  return { address: values.agent || io.env.GROVE_AGENT || DEFAULT_AGENT, ...credentials(values, fallbackDeadlineMs) };
}

/** The coordinator a verb talks to: `--coordinator`, else GROVE_COORDINATOR, else the local default. */
export function coordinatorTarget(values: GlobalValues, io: CliIo, fallbackDeadlineMs?: number): GroveClientOptions {
  return {
    address: values.coordinator || io.env.GROVE_COORDINATOR || DEFAULT_COORDINATOR,
    ...credentials(values, fallbackDeadlineMs),
  };
}
