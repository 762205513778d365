/**
 * What a command may touch of its process: output streams, environment and working
 * directory. Commands never reach for `process` themselves, so they can run in-process.
 */
export interface CliIo {
  /** Text for people: control characters in it are shown as escapes (terminalSafe). */
  out(text: string): void;
  /** Exactly as given: JSON lines, and the CLI's own drawing on a terminal. */
  outExact(text: string): void;
  /** Raw bytes to stdout (task logs): text decoding would mangle binary output. */
  outBytes(data: Uint8Array): void;
  err(text: string): void;
  /** Stdout is a terminal: live views redraw in place instead of printing line after line. */
  isTTY: boolean;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

export function processIo(): CliIo {
  return {
    out: (text) => void process.stdout.write(text),
    outExact: (text) => void process.stdout.write(text),
    outBytes: (data) => void process.stdout.write(data),
    err: (text) => void process.stderr.write(text),
    isTTY: process.stdout.isTTY === true,
    env: process.env,
    cwd: process.cwd(),
  };
}
