import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The root logger of a process. Services take it injected and derive
 * `logger.child({ component })` per module; nothing logs through console.
 * Logs go to stderr so stdout stays free for the one ready line and CLI output.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.GROVE_LOG_LEVEL ?? 'info',
      ...(options.name ? { name: options.name } : {}),
      base: { pid: process.pid },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}
