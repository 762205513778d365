import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Flags every client verb accepts, wherever they appear after the verb. */
export const GLOBAL_OPTIONS = {
  agent: { type: 'string' },
  coordinator: { type: 'string' },
  'token-file': { type: 'string' },
  'tls-ca': { type: 'string' },
  json: { type: 'boolean', default: false },
} as const satisfies OptionsConfig;

export const GLOBAL_FLAGS_HELP = `  --agent HOST:PORT        agent to call (env GROVE_AGENT; default 127.0.0.1:7420)
  --coordinator HOST:PORT  coordinator to call (env GROVE_COORDINATOR; default 127.0.0.1:7421)
  --token-file FILE        send the bearer token in FILE
  --tls-ca FILE            dial over TLS, verifying the server with this CA
  --json                   proto3 JSON: one object per command, one line per streamed event
  -h, --help               show help for the verb`;

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
