/**
 * The task runner: `node runner.js <run-dir>`. The agent starts it detached (its own
 * session and process group), so the agent can exit or crash while the task runs on. It
 * runs spec.json's argv with cwd set to the worktree, appends output to output.log (keeping
 * only the newest `logCapBytes`, with the count of dropped head bytes in `dropped`), and
 * writes exit.json atomically (write + rename) when the task ends. Piped tasks use node
 * builtins only: the runner must start fast and never fail on its own account.
 *
 * A terminal task (`tty`) runs in a pseudo-terminal (node-pty) that this runner holds, so it
 * outlives the agent too. The runner serves the terminal on <run-dir>/term.sock (the run
 * directory is owner-only): each client gets the screen as it is now (screen-mirror.ts), then
 * live output, and may write input and resize (terminal-frames.ts). The agent connects per attach or send, so
 * after an agent restart there is nothing to restore: it connects again.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { constants } from 'node:os';
import { join } from 'node:path';
import { encodeFrame, FRAME, FrameReader, socketPath } from './terminal-frames.js';

interface RunSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  logCapBytes: number;
  tty?: { cols: number; rows: number };
}

// A client this far behind is dropped (it may attach again) rather than slowing the task.
const CLIENT_BACKLOG_BYTES = 8 * 1024 * 1024;

const runDir = process.argv[2];
if (!runDir) {
  process.stderr.write('usage: runner.js <run-dir>\n');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(join(runDir, 'spec.json'), 'utf8')) as RunSpec;
const logPath = join(runDir, 'output.log');
// Slack so the log is rewritten once per megabyte over the cap, not on every write.
const TRIM_SLACK = 1024 * 1024;

let logFd = openSync(logPath, 'a');
let size = fstatSync(logFd).size;
let dropped = 0;
// Output that could not be written (a full disk): counted, never a reason to stop the task.
let lost = 0;

// The exit file's blocks are taken now, while there is room: when the task ends on a full
// disk, its status is written into them in place, so it is never lost for want of space.
const EXIT_RESERVED = 512;
const reservedPath = join(runDir, 'exit.reserved');
{
  const fd = openSync(reservedPath, 'w');
  writeSync(fd, Buffer.alloc(EXIT_RESERVED, 0x20));
  fsyncSync(fd);
  closeSync(fd);
}

function writeAtomically(name: string, content: string): void {
  const temp = join(runDir!, `${name}.tmp`);
  const fd = openSync(temp, 'w');
  writeSync(fd, content);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(temp, join(runDir!, name));
}

function trimLog(): void {
  const keep = Buffer.alloc(spec.logCapBytes);
  const readFd = openSync(logPath, 'r');
  readSync(readFd, keep, 0, keep.length, size - keep.length);
  closeSync(readFd);
  const temp = `${logPath}.tmp`;
  writeFileSync(temp, keep);
  renameSync(temp, logPath);
  closeSync(logFd);
  logFd = openSync(logPath, 'a');
  dropped += size - keep.length;
  size = keep.length;
  writeAtomically('dropped', String(dropped));
}

function append(chunk: Buffer): void {
  try {
    writeSync(logFd, chunk);
    size += chunk.length;
    if (size > spec.logCapBytes + TRIM_SLACK) trimLog();
  } catch {
    lost += chunk.length;
  }
}

/** The exit status into the reserved blocks (padded with spaces, which JSON ignores), then renamed in place. */
function writeExit(content: string): void {
  const bytes = Buffer.from(content);
  if (bytes.length > EXIT_RESERVED) throw new Error('exit status too long');
  const fd = openSync(reservedPath, 'r+');
  writeSync(fd, Buffer.concat([bytes, Buffer.alloc(EXIT_RESERVED - bytes.length, 0x20)]), 0, EXIT_RESERVED, 0);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(reservedPath, join(runDir!, 'exit.json'));
}

let finished = false;
/** Records how the task ended, then `exit` (by default at once). */
function finish(code: number | null, signal: string | null, exit: () => void = () => process.exit(0)): void {
  if (finished) return;
  finished = true;
  try {
    if (size > spec.logCapBytes) trimLog();
    fsyncSync(logFd);
  } catch {
    // a full disk: the log keeps what it has; the exit status below matters more
  }
  writeExit(JSON.stringify({ code, signal, endedAt: new Date().toISOString(), ...(lost > 0 ? { lostOutputBytes: lost } : {}) }));
  exit();
}

process.chdir(spec.cwd);
// Says which process runs this task, for an agent that crashed before it recorded the pid.
writeAtomically('runner.json', JSON.stringify({ pid: process.pid }));
if (spec.tty) void runInTerminal(spec.tty);
else runPiped();

function runPiped(): void {
  // The agent signals the whole process group; the runner stays to record how the task ended.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => undefined);
  const child = spawn(spec.argv[0]!, spec.argv.slice(1), {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  child.on('error', (err) => {
    append(Buffer.from(`grove: could not start ${spec.argv[0]}: ${err.message}\n`));
    finish(127, null);
  });
  child.on('close', (code, signal) => finish(code, signal));
}

async function runInTerminal(size: { cols: number; rows: number }): Promise<void> {
  const clients = new Set<Socket>();
  let term: import('node-pty').IPty;
  let mirror: import('./screen-mirror.js').ScreenMirror;
  try {
    const pty = await import('node-pty');
    const { ScreenMirror } = await import('./screen-mirror.js');
    term = pty.spawn(spec.argv[0]!, spec.argv.slice(1), {
      name: 'xterm-256color',
      cols: size.cols,
      rows: size.rows,
      cwd: spec.cwd,
      env: spec.env,
    });
    const started = term;
    mirror = new ScreenMirror(size, { pause: () => started.pause(), resume: () => started.resume() });
  } catch (err) {
    append(Buffer.from(`grove: could not start ${spec.argv[0]} in a terminal: ${(err as Error).message}\n`));
    finish(127, null);
    return;
  }
  // The terminal's processes are a session of their own: signals the agent sends the runner's
  // group (cancel) are passed on to the terminal's process group.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => {
      try {
        process.kill(-term.pid, signal);
      } catch {
        // already gone
      }
    });
  }
  writeAtomically('terminal.json', JSON.stringify({ childPid: term.pid }));

  const broadcast = (frame: Buffer) => {
    for (const client of clients) {
      if (client.writableLength > CLIENT_BACKLOG_BYTES) client.destroy();
      else client.write(frame);
    }
  };
  term.onData((text) => {
    const chunk = Buffer.from(text, 'utf8');
    append(chunk);
    // Clients hear output in the order the mirror parses it, so a replay taken between two
    // chunks is followed by exactly the chunks after it.
    mirror.write(text, () => broadcast(encodeFrame(FRAME.output, chunk)));
  });

  const server = createServer((client) => {
    client.on('close', () => clients.delete(client));
    client.on('error', () => client.destroy());
    mirror.snapshot((screen) => {
      if (client.destroyed) return;
      client.write(encodeFrame(FRAME.replay, Buffer.from(screen, 'utf8')));
      clients.add(client);
    });
    const reader = new FrameReader();
    client.on('data', (chunk: Buffer) => {
      try {
        for (const frame of reader.push(chunk)) {
          if (frame.type === FRAME.input) term.write(frame.payload.toString('utf8'));
          else if (frame.type === FRAME.resize) {
            const { cols, rows } = JSON.parse(frame.payload.toString('utf8')) as { cols: number; rows: number };
            if (cols >= 1 && rows >= 1 && cols <= 1000 && rows <= 1000) {
              term.resize(cols, rows);
              mirror.resize(cols, rows);
            }
          }
        }
      } catch {
        client.destroy();
      }
    });
  });
  const bound = socketPath(runDir!);
  server.listen(bound.path, () => {
    chmodSync(join(runDir!, 'term.sock'), 0o600);
    bound.release();
  });
  server.on('error', (err) => append(Buffer.from(`grove: the terminal socket failed: ${err.message}\n`)));

  term.onExit(({ exitCode, signal }) => {
    const name = signal ? (Object.entries(constants.signals).find(([, n]) => n === signal)?.[0] ?? String(signal)) : null;
    const code = name ? null : exitCode;
    // Once the last output has gone to the clients: the exit file first (the agent's truth),
    // then each client hears the end; the runner exits once they have it, or after a bound
    // for a client that stopped reading.
    mirror.whenParsed(() =>
      finish(code, name, () => {
        server.close();
        const exitFrame = encodeFrame(FRAME.exit, JSON.stringify({ code, signal: name }));
        for (const client of clients) client.end(exitFrame);
        const exit = () => process.exit(0);
        if (clients.size === 0) exit();
        for (const client of clients) client.on('close', () => clients.size === 0 && exit());
        setTimeout(exit, 2000).unref();
      }),
    );
  });
}
