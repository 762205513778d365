import { renameSync, writeFileSync } from 'node:fs';

/**
 * Announces a bound address: one line on stdout, and atomically (write + rename) in
 * `readyFile` when given, so scripts using port 0 never read a half-written file. `more`
 * are further lines (the coordinator's page URL), after the address.
 */
export function announceReady(address: string, readyFile: string | undefined, more: string[] = []): void {
  const text = [address, ...more].map((line) => `${line}\n`).join('');
  if (readyFile) writeFileAtomically(readyFile, text);
  process.stdout.write(text);
}

/** Replaces `file` with `text` in one step (write + rename): readers see the old or the new. */
export function writeFileAtomically(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}

/** Runs `close` once on SIGTERM or SIGINT, then exits; a second signal exits at once. */
export function closeOnSignals(close: () => Promise<void>, onError: (err: unknown) => void): void {
  let closing = false;
  const handler = () => {
    if (closing) process.exit(130);
    closing = true;
    close().then(
      () => process.exit(0),
      (err) => {
        onError(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
