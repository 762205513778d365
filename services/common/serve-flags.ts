import { readTokenFile } from './auth.js';
import { parseDuration } from './duration.js';
import type { TlsFiles } from './grpc-server.js';
import type { Logger } from './logging.js';
import { announceReady, closeOnSignals } from './ready.js';

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
export function serveUntilSignalled(server: { address: string; close(): Promise<void> }, readyFile: string | undefined, log: Logger): void {
  closeOnSignals(
    () => server.close(),
    (err) => log.error({ err }, 'shutdown failed'),
  );
  announceReady(server.address, readyFile);
}

/** Runs `serve` with the process's arguments when `moduleUrl` is the entry point. */
export function runIfEntryPoint(moduleUrl: string, label: string, serve: (argv: string[]) => Promise<void>): void {
  if (!process.argv[1] || moduleUrl !== new URL(`file://${process.argv[1]}`).href) return;
  serve(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${label}: ${(err as Error).message ?? err}\n`);
    process.exit(1);
  });
}
