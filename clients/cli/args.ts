import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Flags every client verb accepts, wherever they appear after the verb. */
export const GLOBAL_OPTIONS = {
  agent: { type: 'string' },
  coordinator: { type: 'string' },
  'token-file': { type: 'string' },
  'tls-ca': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const satisfies OptionsConfig;

export const GLOBAL_FLAGS_HELP = `  --agent HOST:PORT        agent to call (env GROVE_AGENT; default 127.0.0.1:7420)
  --coordinator HOST:PORT  coordinator to call (env GROVE_COORDINATOR; default 127.0.0.1:7421);
                           as a flag, it also sends agent verbs through it (routed, see --on)
  --token-file FILE        send the bearer token in FILE
  --tls-ca FILE            dial over TLS, verifying the server with this CA
  --timeout DURATION       how long to wait for an answer (default 10s; 10m for kill,
                           cleanup, restore and preserved apply, which may move many files)
  --json                   proto3 JSON: one object per command, one line per streamed event
  -h, --help               show help for the verb`;

/**
 * Global flags written before the verb (`grove --agent A --json session ls`), moved after it,
 * as kubectl, gh and docker users write them. They go before a `--`, so they never become
 * the argv of a task. Anything else before the verb is left for the verb lookup to refuse.
 */
export function hoistGlobalFlags(argv: readonly string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const match = /^--([a-z-]+)(=.*)?$/.exec(argv[i]!);
    const option = match ? (GLOBAL_OPTIONS as Record<string, { type: string }>)[match[1]!] : undefined;
    if (!match || !option) break;
    leading.push(argv[i++]!);
    if (option.type === 'string' && match[2] === undefined) {
      if (i >= argv.length) throw new UsageError(`--${match[1]} needs a value`);
      leading.push(argv[i++]!);
    }
  }
  if (leading.length === 0) return [...argv];
  const rest = argv.slice(i);
  const end = rest.indexOf('--');
  return end === -1 ? [...rest, ...leading] : [...rest.slice(0, end), ...leading, ...rest.slice(end)];
}

/** Parses a verb's flags together with the global ones; unknown flags are usage errors. */
export function parseVerbArgs<T extends OptionsConfig>(args: string[], options: T) {
  return parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
}

export type GlobalValues = ReturnType<typeof parseVerbArgs<{}>>['values'];

/** Checks the positional arguments against their names, all required: `['PATH']`. */
export function expectPositionals<const Names extends readonly string[]>(
  verb: string,
  positionals: string[],
  names: Names,
): { -readonly [K in keyof Names]: string } {
  if (positionals.length < names.length) {
    throw new UsageError(`${verb}: missing ${names.slice(positionals.length).join(' ')}`);
  }
  if (positionals.length > names.length) {
    throw new UsageError(`${verb}: unexpected argument "${positionals[names.length]}"`);
  }
  return positionals as { -readonly [K in keyof Names]: string };
}

/** A flag that must be a non-negative integer, e.g. `--after 12`. */
export function integerFlag(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new UsageError(`--${name} must be a non-negative integer, got "${text}"`);
  }
  return value;
}

/** `--on AGENT`, taken by every verb that acts on one agent's resources. */
export const ROUTE_OPTIONS = {
  on: { type: 'string' },
} as const satisfies OptionsConfig;

export const ROUTE_FLAG_HELP = `  --on AGENT   with --coordinator: the agent (id or name) to send the call to; calls naming a
               session, task or job id find their agent by themselves`;

/** Repeatable `k=v` flags (`--label a=b --label c=d`) as a map; a later key wins. */
export function keyValueFlags(name: string, texts: readonly string[] | undefined): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const text of texts ?? []) {
    const at = text.indexOf('=');
    if (at <= 0) throw new UsageError(`--${name} takes KEY=VALUE, got "${text}"`);
    pairs[text.slice(0, at)] = text.slice(at + 1);
  }
  return pairs;
}

/** Repeatable `--where k=v` flags as the `k=v,k2=v2` selector the services take. */
export function selectorFlag(texts: readonly string[] | undefined): string {
  return Object.entries(keyValueFlags('where', texts))
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/**
 * A flag or argument (`what`: `--state`, `KIND`) naming a proto enum value without its
 * prefix, in any case: `--state active` is SESSION_STATE_ACTIVE. Absent, it is 0
 * (UNSPECIFIED: no filter).
 */
export function enumFlag(
  what: string,
  text: string | undefined,
  values: Readonly<Record<string, string | number>>,
  prefix: string,
): number {
  if (text === undefined) return 0;
  // needs-input and needs_input both name NEEDS_INPUT.
  const value = values[`${prefix}${text.toUpperCase().replaceAll('-', '_')}`];
  if (typeof value === 'number' && value > 0) return value;
  const names = Object.keys(values)
    .filter((key) => key.startsWith(prefix) && !key.endsWith('_UNSPECIFIED'))
    .map((key) => key.slice(prefix.length).toLowerCase());
  throw new UsageError(`${what} must be one of ${names.join(', ')}; got "${text}"`);
}
