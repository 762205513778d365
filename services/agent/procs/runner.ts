/**
 * The task runner: `node runner.js <run-dir>`. The agent starts it detached (its own
 * session and process group), so the agent can exit or crash while the task runs on. It
 * runs spec.json's argv with cwd set to the worktree, appends output to output.log (keeping
 * only the newest `logCapBytes`, with the count of dropped head bytes in `dropped`), and
 * writes exit.json atomically (write + rename) when the task ends. Only node builtins: it
 * must start fast and never fail on its own account.
 */
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

interface RunSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  logCapBytes: number;
}

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
function finish(code: number | null, signal: string | null): void {
  if (finished) return;
  finished = true;
  try {
    if (size > spec.logCapBytes) trimLog();
    fsyncSync(logFd);
  } catch {
    // a full disk: the log keeps what it has; the exit status below matters more
  }
  writeExit(JSON.stringify({ code, signal, endedAt: new Date().toISOString(), ...(lost > 0 ? { lostOutputBytes: lost } : {}) }));
  process.exit(0);
}

// The agent signals the whole process group; the runner stays to record how the task ended.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => undefined);

process.chdir(spec.cwd);
// Says which process runs this task, for an agent that crashed before it recorded the pid.
writeAtomically('runner.json', JSON.stringify({ pid: process.pid }));
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
