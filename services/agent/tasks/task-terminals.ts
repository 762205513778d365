import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AttachOpen, AttachTaskRequest, AttachTaskResponse, SignalTaskRequest } from '../../../gen/grove/agent/v1/agent_service.js';
import type { Task } from '../../../gen/grove/agent/v1/resources.js';
import { AsyncQueue } from '../../common/async-queue.js';
import { failedPrecondition, invalidArgument, permissionDenied, unavailable } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import { afterProbe, signalled, type Activity } from '../domain/task-activity.js';
import { foregroundWaitsOnTerminal } from '../procs/terminal-probe.js';
import type { TaskRow } from '../store/entities.js';
import type { Store } from '../store/store.js';
import { TerminalConnection } from './terminal-connection.js';
import { taskActivityFromProto, toTaskProto } from './task-mapper.js';

export const MAX_INPUT_BYTES = 64 * 1024;
const MAX_MESSAGE = 1000;
// Output frames waiting for a slow client before the producer waits: a bound, not a buffer.
const ATTACH_QUEUE = 64;
// A task RUNNING without its terminal socket yet is starting: how long an attach waits for it.
const SOCKET_WAIT_MS = 10_000;

export const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

export interface TerminalHost {
  store: Store;
  log: Logger;
  find(id: string): Promise<TaskRow>;
  /** Probes the task now, recording its end if it has ended. */
  settle(id: string): Promise<void>;
  /** Commits an activity change with its task and session events. */
  recordActivity(task: TaskRow, next: Activity): Promise<void>;
  quietMs: number;
}

function checkSize(cols: number, rows: number): void {
  if (cols === 0 && rows === 0) return;
  if (!(cols >= 1 && cols <= 1000 && rows >= 1 && rows <= 1000)) {
    throw invalidArgument('BAD_TERMINAL_SIZE', `a terminal is 1..1000 columns by 1..1000 rows, not ${cols}x${rows}`);
  }
}

export function checkTerminalRequest(tty: boolean, cols: number, rows: number): void {
  if (!tty && (cols || rows)) throw invalidArgument('SIZE_WITHOUT_TTY', '--cols and --rows need --tty');
  checkSize(cols, rows);
}

function readActivity(task: TaskRow): Activity {
  return { activity: task.activity || 'WORKING', source: task.activitySource || 'start', message: task.activityMessage };
}

/**
 * Attach, send and activity for terminal tasks. The terminal itself belongs to the runner;
 * this only connects to it, per call.
 */
export class TaskTerminals {
  constructor(private readonly host: TerminalHost) {}

  /** A running terminal task, or a clear refusal. */
  private async runningTerminal(id: string): Promise<TaskRow> {
    const task = await this.host.find(id);
    if (!task.tty) throw failedPrecondition('NOT_A_TERMINAL', `task ${id} runs without a terminal; read it with \`grove task logs\``);
    if (task.state === 'QUEUED') throw failedPrecondition('TASK_NOT_STARTED', `task ${id} has not started yet`);
    if (task.state !== 'RUNNING') throw failedPrecondition('TASK_NOT_RUNNING', `task ${id} has ended (${task.state})`);
    return task;
  }

  private async connect(task: TaskRow): Promise<TerminalConnection> {
    const deadline = Date.now() + SOCKET_WAIT_MS;
    for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
      try {
        return await TerminalConnection.open(task.runDir);
      } catch (err) {
        const row = await this.host.find(task.id);
        if (row.state !== 'RUNNING') throw failedPrecondition('TASK_NOT_RUNNING', `task ${task.id} has ended (${row.state})`);
        if (Date.now() > deadline) {
          this.host.log.warn({ err, task: task.id }, 'the terminal socket did not answer');
          throw unavailable('TERMINAL_UNAVAILABLE', `the terminal of task ${task.id} does not answer`);
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Writes input without attaching; answers the bytes written. */
  async send(id: string, data: Buffer): Promise<number> {
    if (data.length === 0) throw invalidArgument('INPUT_REQUIRED', 'no input to send');
    if (data.length > MAX_INPUT_BYTES) throw invalidArgument('INPUT_TOO_LARGE', `input is over ${MAX_INPUT_BYTES} bytes`);
    const task = await this.runningTerminal(id);
    const connection = await this.connect(task);
    try {
      // Once the replay arrives the runner serves this connection; what we write before our
      // end is then read, and its echo drained, before the runner closes its side.
      const frames = connection.frames();
      await frames.next();
      await connection.write(data);
      void connection.end();
      for await (const _ of frames);
    } finally {
      connection.close();
    }
    return data.length;
  }

  /**
   * The screen of a running terminal task: the recent output, live output, and at the end the
   * task as it ended. Input and resizes come from `requests` unless the attach is read-only.
   */
  async *attach(open: AttachOpen, requests: AsyncIterator<AttachTaskRequest>, signal: AbortSignal): AsyncGenerator<AttachTaskResponse> {
    const size = open.size ?? { cols: 0, rows: 0 };
    checkSize(size.cols, size.rows);
    const task = await this.runningTerminal(open.taskId);
    const connection = await this.connect(task);
    const out = new AsyncQueue<AttachTaskResponse>();
    const stop = () => connection.close();
    signal.addEventListener('abort', stop, { once: true });
    try {
      if (!open.readOnly && size.cols > 0) await connection.resize(size.cols, size.rows);
      void this.pumpInput(open, requests, connection).catch((err: unknown) => out.end(err));
      void this.pumpOutput(task, connection, out, signal).catch((err: unknown) => out.end(err));
      yield* out.drain(signal);
    } finally {
      signal.removeEventListener('abort', stop);
      connection.close();
    }
  }

  private async pumpInput(open: AttachOpen, requests: AsyncIterator<AttachTaskRequest>, connection: TerminalConnection): Promise<void> {
    for (;;) {
      const next = await requests.next();
      if (next.done) return;
      const message = next.value.message;
      if (!message) continue;
      if (message.$case === 'open') throw invalidArgument('ALREADY_OPEN', 'an attach is opened once, by its first message');
      if (open.readOnly) throw failedPrecondition('READ_ONLY_ATTACH', 'this attach is read-only: it cannot type or resize');
      if (message.$case === 'input') {
        if (message.value.length > MAX_INPUT_BYTES) throw invalidArgument('INPUT_TOO_LARGE', `input is over ${MAX_INPUT_BYTES} bytes`);
        await connection.write(Buffer.from(message.value));
      } else {
        checkSize(message.value.cols, message.value.rows);
        if (message.value.cols > 0) await connection.resize(message.value.cols, message.value.rows);
      }
    }
  }

  private async pumpOutput(
    task: TaskRow,
    connection: TerminalConnection,
    out: AsyncQueue<AttachTaskResponse>,
    signal: AbortSignal,
  ): Promise<void> {
    for await (const frame of connection.frames()) {
      if (frame.kind === 'exit') break;
      out.push({ message: frame.kind === 'replay' ? { $case: 'replay', value: frame.data } : { $case: 'output', value: frame.data } });
      await out.waitForSpace(ATTACH_QUEUE, signal);
      if (signal.aborted) return;
    }
    // The runner wrote its exit file before it said goodbye (or died): the task's end is known.
    out.push({ message: { $case: 'exited', value: await this.ended(task.id, signal) } });
    out.end();
  }

  /** The task once the agent has recorded its end (it probes now rather than at its next poll). */
  private async ended(id: string, signal: AbortSignal): Promise<Task> {
    for (let delay = 10; !signal.aborted; delay = Math.min(delay * 2, 250)) {
      await this.host.settle(id);
      const row = await this.host.find(id);
      if (row.state !== 'RUNNING') return toTaskProto(row);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    return toTaskProto(await this.host.find(id));
  }

  // ---- activity -------------------------------------------------------------------------

  /** `grove signal` from inside a task, proven by the task's secret. */
  async signal(request: SignalTaskRequest): Promise<Task> {
    const activity = taskActivityFromProto(request.activity);
    if (!activity) throw invalidArgument('BAD_ACTIVITY', 'activity must be WORKING, NEEDS_INPUT or IDLE');
    if (request.message.length > MAX_MESSAGE) throw invalidArgument('MESSAGE_TOO_LONG', `the message is over ${MAX_MESSAGE} characters`);
    const task = await this.host.find(request.taskId);
    const given = Buffer.from(hashSecret(request.secret));
    const expected = Buffer.from(task.secretHash || hashSecret(''));
    // Constant time, and never equal for a task without a secret (one that never ran).
    if (!task.secretHash || !request.secret || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw permissionDenied('BAD_TASK_SECRET', `the secret does not match task ${task.id}`);
    }
    if (task.state !== 'RUNNING') throw failedPrecondition('TASK_NOT_RUNNING', `task ${task.id} has ended (${task.state})`);
    await this.host.recordActivity(task, signalled(activity, request.message));
    return toTaskProto(await this.host.find(task.id));
  }

  /** Infers the activity of running terminal tasks that never signalled. Never throws. */
  async probe(tasks: TaskRow[]): Promise<void> {
    for (const task of tasks) {
      if (!task.tty || task.state !== 'RUNNING' || task.activitySource === 'signal') continue;
      try {
        const quietMs = Date.now() - statSync(join(task.runDir, 'output.log')).mtimeMs;
        const leader = terminalLeader(task);
        const next = afterProbe(
          readActivity(task),
          { blockedOnTerminal: leader > 0 && foregroundWaitsOnTerminal(leader), quietMs },
          this.host.quietMs,
        );
        if (next) await this.host.recordActivity(task, next);
      } catch (err) {
        this.host.log.debug({ err, task: task.id }, 'activity probe failed');
      }
    }
  }
}

/** The pid the terminal was started with (the runner records it), 0 when unknown. */
export function terminalLeader(task: TaskRow): number {
  try {
    const { childPid } = JSON.parse(readTerminalFile(task)) as { childPid: number };
    return Number.isInteger(childPid) && childPid > 0 ? childPid : 0;
  } catch {
    return 0;
  }
}

function readTerminalFile(task: TaskRow): string {
  return readFileSync(join(task.runDir, 'terminal.json'), 'utf8');
}
