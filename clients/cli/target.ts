import { readTokenFile } from '../../services/common/auth.js';
import type { GroveClientOptions } from '../sdk/index.js';
import type { GlobalValues } from './args.js';
import type { CliIo } from './cli-io.js';

// The addresses `grove agent serve` and `grove coordinator serve` bind by default.
export const DEFAULT_AGENT = '127.0.0.1:7420';
export const DEFAULT_COORDINATOR = '127.0.0.1:7421';

function credentials(values: GlobalValues): Omit<GroveClientOptions, 'address'> {
  return {
    token: values['token-file'] ? readTokenFile(values['token-file']) : undefined,
    tls: values['tls-ca'] ? { caFile: values['tls-ca'] } : undefined,
  };
}

/** The agent a verb talks to: `--agent`, else GROVE_AGENT, else the local default. */
export function agentTarget(values: GlobalValues, io: CliIo): GroveClientOptions {
  return { address: values.agent || io.env.GROVE_AGENT || DEFAULT_AGENT, ...credentials(values) };
}

/** The coordinator a verb talks to: `--coordinator`, else GROVE_COORDINATOR, else the local default. */
export function coordinatorTarget(values: GlobalValues, io: CliIo): GroveClientOptions {
  return {
    address: values.coordinator || io.env.GROVE_COORDINATOR || DEFAULT_COORDINATOR,
    ...credentials(values),
  };
}
