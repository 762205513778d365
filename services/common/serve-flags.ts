import { readTokenFile } from './auth.js';
import { parseDuration } from './duration.js';
import type { TlsFiles } from './grpc-server.js';
import type { Logger } from './logging.js';
import { announceReady, closeOnSignals } from './ready.js';
import { badFlag, StartupError } from './startup-error.js';

/** The parseArgs options every `grove ... serve` verb shares. */
export const COMMON_SERVE_OPTIONS = {
  'token-file': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'ready-file': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

export function positiveInteger(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${flag} must be a positive integer`);
  return value;
}

export const optionalDuration = (text: string | undefined) => (text === undefined ? undefined : parseDuration(text));

/** The bearer token and TLS files named by the shared flags. */
export function securityFromFlags(values: { 'token-file'?: string; 'tls-cert'?: string; 'tls-key'?: string }): {
  token: string | undefined;
  tls: TlsFiles | undefined;
} {
  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if (Boolean(cert) !== Boolean(key)) throw new Error('--tls-cert and --tls-key go together');
  return {
    token: values['token-file'] ? readTokenFile(values['token-file']) : undefined,
    tls: cert && key ? { certFile: cert, keyFile: key } : undefined,
  };
}

/** Announces a started server and closes it gracefully on SIGTERM/SIGINT. */
export function serveUntilSignalled(
  server: { address: string; httpUrl?: string | undefined; close(): Promise<void> },
  readyFile: string | undefined,
  log: Logger,
): void {
  closeOnSignals(
    () => server.close(),
    (err) => log.error({ err }, 'shutdown failed'),
  );
  announceReady(server.address, readyFile, server.httpUrl ? [server.httpUrl] : []);
}

/**
 * Reads a serve verb's flags: any problem with them (an unknown flag, a bad value, a token
 * file that cannot be read) is a usage error, reported before anything starts.
 */
export function parseServeFlags<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw badFlag((err as Error)?.message ?? String(err));
  }
}

/** Exit status 2 for a usage error, 1 for any other failure to start. */
export function startupExitStatus(err: unknown): number {
  return err instanceof StartupError && err.usage ? 2 : 1;
}

/** Runs `serve` with the process's arguments when `moduleUrl` is the entry point. */
export function runIfEntryPoint(moduleUrl: string, label: string, serve: (argv: string[]) => Promise<void>): void {
  if (!process.argv[1] || moduleUrl !== new URL(`file://${process.argv[1]}`).href) return;
  serve(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${label}: ${String((err as Error)?.message ?? err).replace(/\s*\n\s*/g, ' ')}\n`);
    process.exit(startupExitStatus(err));
  });
}
