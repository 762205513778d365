import { join } from 'node:path';
import type { StartTaskRequest } from '../../../gen/grove/agent/v1/agent_service.js';
import { invalidArgument, resourceExhausted } from '../../common/errors.js';
import { checkRequestId, isWellFormedId } from '../../common/ids.js';
import { TaskSchema, type TaskRow } from '../store/entities.js';
import type { Tx } from '../store/store.js';

// What a task request may be, and the environment it runs with: limits that each field
// keeps, and limits that their sums keep (what exec is handed; what one session may queue).
const MAX_ARGS = 1024;
// The kernel's MAX_ARG_STRLEN: one argument or one KEY=value string, its NUL included.
const MAX_ARG_BYTES = 128 * 1024;
const MAX_PROMPT_BYTES = 1024 * 1024;
const MAX_ENV_BYTES = 256 * 1024;
// ARG_MAX on Linux with the default 8 MiB stack is 2 MiB for argv and environment together
// (strings, their NULs and a pointer each); the rest of the budget is left for the shell.
const MAX_EXEC_BYTES = 2 * 1024 * 1024 - 64 * 1024;
// A prompt this small also travels as $GROVE_PROMPT; every prompt is in $GROVE_PROMPT_FILE.
const MAX_PROMPT_IN_ENV = 64 * 1024;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_QUEUED_PER_SESSION = 100;
const MAX_QUEUED_BYTES_PER_SESSION = 32 * 1024 * 1024;

const taskBytes = (t: { prompt: string; argv: string[]; env: Record<string, string> }) =>
  Buffer.byteLength(t.prompt) +
  t.argv.reduce((sum, arg) => sum + Buffer.byteLength(arg), 0) +
  Object.entries(t.env).reduce((sum, [k, v]) => sum + k.length + Buffer.byteLength(v), 0);

/** Refuses, with a reason, a request the kernel would refuse later in confusing words. */
export function validateTaskRequest(request: StartTaskRequest, tasksDir: string): void {
  if (!request.sessionId) throw invalidArgument('SESSION_REQUIRED', 'a session id is required');
  if (!isWellFormedId('ses', request.sessionId)) throw invalidArgument('BAD_SESSION_ID', 'not a session id');
  checkRequestId(request.requestId);
  if (request.argv.length === 0 || !request.argv[0]) throw invalidArgument('ARGV_REQUIRED', 'a command (argv) is required');
  if (request.argv.length > MAX_ARGS) throw invalidArgument('ARGV_TOO_LONG', `at most ${MAX_ARGS} arguments`);
  request.argv.forEach((arg, i) => {
    if (arg.includes('\0')) throw invalidArgument('BAD_ARGUMENT', `argument ${i} contains a NUL byte`);
    if (Buffer.byteLength(arg) + 1 > MAX_ARG_BYTES) {
      throw invalidArgument(
        'ARGUMENT_TOO_LONG',
        `argument ${i} is ${Buffer.byteLength(arg)} bytes; the kernel takes at most ${MAX_ARG_BYTES - 1}`,
      );
    }
  });
  if (Buffer.byteLength(request.prompt) > MAX_PROMPT_BYTES) throw invalidArgument('PROMPT_TOO_LONG', 'the prompt is over 1 MiB');
  let envBytes = 0;
  for (const [key, value] of Object.entries(request.env)) {
    if (!ENV_KEY.test(key.slice(0, 256)) || key.length > 256 || value.includes('\0')) {
      throw invalidArgument('BAD_ENV', `environment variable "${key.slice(0, 64)}" is not valid`);
    }
    const bytes = key.length + 1 + Buffer.byteLength(value) + 1;
    if (bytes > MAX_ARG_BYTES) {
      throw invalidArgument(
        'ENV_VALUE_TOO_LONG',
        `environment variable ${key} is ${bytes} bytes; the kernel takes at most ${MAX_ARG_BYTES} per variable`,
      );
    }
    envBytes += bytes;
  }
  if (envBytes > MAX_ENV_BYTES) throw invalidArgument('ENV_TOO_LARGE', 'the environment is over 256 KiB');
  // What exec will be handed in all: the argv plus the environment the runner builds.
  const env = taskEnvironment({ id: 'tsk_x', sessionId: request.sessionId, prompt: request.prompt, env: request.env }, tasksDir);
  const strings = [...request.argv, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  const total = strings.reduce((sum, text) => sum + Buffer.byteLength(text) + 1 + 8, 8);
  if (total > MAX_EXEC_BYTES) {
    throw invalidArgument(
      'EXEC_TOO_LARGE',
      `the command and its environment take ${total} bytes; the kernel takes at most ${MAX_EXEC_BYTES}`,
    );
  }
}

/**
 * What one session may have waiting: every queued task is in the agent's snapshot, so
 * without a bound a few hundred large ones would make the agent's state unbounded too.
 */
export async function checkQueueRoom(tx: Tx, sessionId: string, request: StartTaskRequest): Promise<void> {
  const queued = await tx.em.find(TaskSchema, { sessionId, state: 'QUEUED' }, { fields: ['prompt', 'argv', 'env'] });
  if (queued.length >= MAX_QUEUED_PER_SESSION) {
    throw resourceExhausted('QUEUE_FULL', `session ${sessionId} already has ${queued.length} tasks queued; let some run or cancel them`);
  }
  const bytes = [...queued, request].reduce((sum, t) => sum + taskBytes(t), 0);
  if (bytes > MAX_QUEUED_BYTES_PER_SESSION) {
    throw resourceExhausted(
      'QUEUE_TOO_LARGE',
      `the tasks queued in session ${sessionId} would take ${bytes} bytes; at most ${MAX_QUEUED_BYTES_PER_SESSION}`,
    );
  }
}

/** The environment a task runs with: the agent's (less GROVE_*), the request's, and Grove's own. */
export function taskEnvironment(task: Pick<TaskRow, 'id' | 'sessionId' | 'prompt' | 'env'>, runDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('GROVE_')) env[key] = value;
  }
  Object.assign(env, task.env, { GROVE_TASK_ID: task.id, GROVE_SESSION_ID: task.sessionId });
  if (Buffer.byteLength(task.prompt) <= MAX_PROMPT_IN_ENV) env.GROVE_PROMPT = task.prompt;
  env.GROVE_PROMPT_FILE = join(runDir, 'prompt.txt');
  return env;
}
