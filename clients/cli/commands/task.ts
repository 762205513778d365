import { constants } from 'node:os';
import { isAbortError } from 'abort-controller-x';
import {
  CancelTaskResponse,
  FollowTaskLogResponse,
  ListTasksResponse,
  StartTaskResponse,
} from '@grove/sdk/proto/agent/v1/agent_service.js';
import { Task, TaskState, taskStateToJSON } from '@grove/sdk/proto/agent/v1/resources.js';
import { ListTasksResponse as CoordinatorListTasksResponse } from '@grove/sdk/proto/coordinator/v1/coordinator_service.js';
import { routedAgentCaller, type AgentCaller } from '@grove/sdk';
import { enumFlag, expectPositionals, keyValueFlags, parseVerbArgs, ROUTE_FLAG_HELP, ROUTE_OPTIONS } from '../args.js';
import { onAgent, withCaller } from '../caller.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { ExitError } from '../exit-error.js';
import { EXIT_CALL_FAILED, EXIT_STOPPED } from '../exit-status.js';
import { verbUsage } from '../help.js';
import { abortOnSignals } from '../interrupt.js';
import { agentNames, type Names } from '../names.js';
import { enumLabel, formatArgv, formatTime, orDash } from '../output/format.js';
import { formatJsonLine } from '../output/json.js';
import { formatTable } from '../output/table.js';
import { allPages } from '../pages.js';
import { copyTaskLog } from '../task-log.js';
import { UsageError } from '../usage-error.js';

const STATE_HELP = 'queued, running, succeeded, failed, cancelled, interrupted';
const FINISHED: ReadonlySet<TaskState> = new Set([
  TaskState.TASK_STATE_SUCCEEDED,
  TaskState.TASK_STATE_FAILED,
  TaskState.TASK_STATE_CANCELLED,
  TaskState.TASK_STATE_INTERRUPTED,
]);

const taskStateLabel = (task: Task) => enumLabel(taskStateToJSON(task.state), 'TASK_STATE_');

/** How the run ended, for a column: `0`, `3`, `SIGKILL`, or `-` while it has not. */
function exitCell(task: Task): string {
  if (task.exitSignal) return task.exitSignal;
  return task.state === TaskState.TASK_STATE_SUCCEEDED || task.state === TaskState.TASK_STATE_FAILED ? String(task.exitCode) : '-';
}

/**
 * The exit status `task run --wait` ends with: the task's own code; 128 + the signal
 * number when a signal killed it (as shells do); 1 when it failed without either (it never
 * started); 130 when it was cancelled or interrupted (stopped before it could finish).
 */
export function taskExitStatus(task: Task): number {
  switch (task.state) {
    case TaskState.TASK_STATE_SUCCEEDED:
      return 0;
    case TaskState.TASK_STATE_CANCELLED:
    case TaskState.TASK_STATE_INTERRUPTED:
      return EXIT_STOPPED;
    default: {
      const signal = constants.signals[task.exitSignal as NodeJS.Signals] as number | undefined;
      if (signal) return 128 + signal;
      return task.exitCode > 0 && task.exitCode < 256 ? task.exitCode : EXIT_CALL_FAILED;
    }
  }
}

/** Copies the log to stdout (or nowhere, for --json) until the task ends; answers the ended task. */
async function waitForTask(caller: AgentCaller, id: string, io: CliIo, printLog: boolean): Promise<Task> {
  const interrupt = abortOnSignals();
  try {
    await copyTaskLog(caller, id, {
      follow: true,
      signal: interrupt.signal,
      emit: (chunk) => {
        if (printLog) io.outBytes(chunk.data);
      },
      notice: (text) => io.err(text),
    });
    return (await caller.call('getTask', { id })).response;
  } catch (err) {
    if (interrupt.signal.aborted || isAbortError(err)) {
      throw new ExitError(`stopped waiting; task ${id} goes on (grove task cancel ${id} stops it)`, EXIT_STOPPED);
    }
    throw err;
  } finally {
    interrupt.dispose();
  }
}

const run: Command = {
  path: ['task', 'run'],
  synopsis: 'task run SESSION [--wait] [--tty] [--profile P] [...] [-- ARGV...]',
  summary: "run a command in a session's worktree (--wait: stream it, exit with its code)",
  usage: verbUsage(
    'task run SESSION [--prompt P] [--repo R] [--env K=V ...] [--wait] [--tty [--cols N --rows N]] [--profile P [--continue]] [-- ARGV...]',
    `Starts ARGV (no shell: use sh -c '...' for one) in the session's worktree of --repo (default:
the first), queued behind the session's running task if any, and prints the task's id. It
runs under the agent, so it goes on if this command or the agent stops.
With --wait the task's output is streamed to stdout (notes go to stderr) until it ends, and
the exit status is the task's: its exit code; 128+N when killed by signal N; 1 when it
failed without a code (it never started); 130 when it was cancelled or interrupted, or
when you stop waiting with Ctrl-C (the task goes on). With --json, --wait prints the
ended task instead of its output.`,
    `  --wait       stream the output and exit with the task's exit status
  --prompt P   the prompt, for the agent's records (and tools that read it)
  --repo R     the repo (name or id) whose worktree is the working directory
  --env K=V    an environment variable of the run (repeatable)
  --tty        run in a pseudo-terminal held by the agent's runner (task attach, task send)
  --cols N --rows N   the terminal's size (default 80x24)
  --profile P  start agent profile P (grove profile ls) instead of ARGV; --prompt is its prompt
  --continue   with --profile: continue the last conversation in the worktree
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {
      ...ROUTE_OPTIONS,
      wait: { type: 'boolean', default: false },
      prompt: { type: 'string', default: '' },
      repo: { type: 'string', default: '' },
      env: { type: 'string', multiple: true },
      tty: { type: 'boolean', default: false },
      cols: { type: 'string', default: '0' },
      rows: { type: 'string', default: '0' },
      profile: { type: 'string', default: '' },
      continue: { type: 'boolean', default: false },
    });
    const [sessionId, ...argv] = positionals;
    if (sessionId === undefined) throw new UsageError('task run: missing SESSION');
    if (argv.length === 0 && !values.profile) {
      throw new UsageError('task run: missing the command to run: task run SESSION -- ARGV... (or --profile P)');
    }
    const count = (flag: string, text: string) => {
      if (!/^\d{1,4}$/.test(text)) throw new UsageError(`task run: ${flag} must be a number, not "${text}"`);
      return Number(text);
    };
    const request = {
      sessionId,
      argv,
      prompt: values.prompt,
      repoId: values.repo,
      env: keyValueFlags('env', values.env),
      tty: values.tty,
      cols: count('--cols', values.cols),
      rows: count('--rows', values.rows),
      profile: values.profile,
      continue: values.continue,
    };
    await withCaller(values, io, async (caller) => {
      const { response, agent } = await caller.call('startTask', request);
      const { task } = response;
      if (!task) throw new Error('the agent answered StartTask without the task');
      const started = `task ${task.id} ${taskStateLabel(task)} in session ${sessionId}${onAgent(agent)}\n`;
      if (!values.wait) return values.json ? io.outExact(formatJsonLine(StartTaskResponse.toJSON(response))) : io.out(started);
      if (!values.json) io.err(started);
      // Follow the task on the agent that took it: the coordinator may not have heard of the
      // new id yet, so it could not route by it.
      const owner = caller.kind === 'routed' && agent ? routedAgentCaller(caller.coordinator, { agent: agent.id }) : caller;
      const ended = await waitForTask(owner, task.id, io, !values.json);
      if (values.json) io.outExact(formatJsonLine(Task.toJSON(ended)));
      const status = taskExitStatus(ended);
      if (status !== 0) throw new ExitError(`task ${ended.id} ${taskStateLabel(ended)}: ${orDash(ended.reason)}`, status);
      if (!values.json) io.err(`task ${ended.id} SUCCEEDED\n`);
    });
  },
};

const taskRow = (task: Task, agentName?: Names) => [
  ...(agentName ? [agentName(task.agentId)] : []),
  task.id,
  task.sessionId,
  String(task.seq),
  taskStateLabel(task),
  exitCell(task),
  formatArgv(task.argv),
];

async function listTasks(caller: AgentCaller, sessionId: string, state: number): Promise<{ json: unknown; rows: string[][] }> {
  if (caller.kind === 'routed') {
    const { coordinator } = caller;
    const request = { agent: caller.target.agent ?? '', sessionId, state };
    const { first, items } = await allPages(
      (pageToken) => coordinator.listTasks({ ...request, pageToken }),
      (p) => p.tasks,
    );
    const names = await agentNames(coordinator);
    const json = CoordinatorListTasksResponse.toJSON({ tasks: items, nextPageToken: '', revision: first.revision });
    return { json, rows: [['AGENT', 'ID', 'SESSION', 'SEQ', 'STATE', 'EXIT', 'ARGV'], ...items.map((t) => taskRow(t, names))] };
  }
  const { first, items } = await allPages(
    async (pageToken) => (await caller.call('listTasks', { sessionId, state, pageToken })).response,
    (page) => page.tasks,
  );
  const json = ListTasksResponse.toJSON({ tasks: items, nextPageToken: '', revision: first.revision });
  return { json, rows: [['ID', 'SESSION', 'SEQ', 'STATE', 'EXIT', 'ARGV'], ...items.map((t) => taskRow(t))] };
}

const ls: Command = {
  path: ['task', 'ls'],
  synopsis: 'task ls [SESSION] [--state S]',
  summary: 'list tasks (of every agent, with an AGENT column, via --coordinator)',
  usage: verbUsage(
    'task ls [SESSION] [--state S]',
    `Lists tasks, of one session or all; with --coordinator, of every agent (or of the one --on
names) as the coordinator projects them, with an AGENT column.`,
    `  --state S    only tasks in this state: ${STATE_HELP}
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, { ...ROUTE_OPTIONS, state: { type: 'string' } });
    if (positionals.length > 1) throw new UsageError(`task ls: unexpected argument "${positionals[1]}"`);
    const state = enumFlag('--state', values.state, TaskState, 'TASK_STATE_');
    const { json, rows } = await withCaller(values, io, (caller) => listTasks(caller, positionals[0] ?? '', state));
    if (values.json) return io.outExact(formatJsonLine(json));
    if (rows.length === 1) return io.err('no tasks\n');
    io.out(formatTable(rows));
  },
};

const get: Command = {
  path: ['task', 'get'],
  synopsis: 'task get ID',
  summary: 'show a task',
  usage: verbUsage('task get ID', 'Shows a task: its state and why, its process and how it ended.', ROUTE_FLAG_HELP),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    const [id] = expectPositionals('task get', positionals, ['ID']);
    const { response: task, agent } = await withCaller(values, io, (caller) => caller.call('getTask', { id }));
    if (values.json) return io.outExact(formatJsonLine(Task.toJSON(task)));
    io.out(
      formatTable([
        ['ID', task.id],
        ['SESSION', task.sessionId],
        ['SEQ', String(task.seq)],
        ['STATE', taskStateLabel(task)],
        ['REASON', orDash(task.reason)],
        ['ARGV', formatArgv(task.argv)],
        ['PROMPT', orDash(task.prompt.split('\n')[0] ?? '')],
        ['PID', task.pid ? String(task.pid) : '-'],
        ['EXIT', exitCell(task)],
        ...(agent ? [['AGENT', agent.name]] : []),
        ['CREATED', formatTime(task.createTime)],
        ['STARTED', formatTime(task.startTime)],
        ['ENDED', formatTime(task.endTime)],
      ]),
    );
  },
};

const cancel: Command = {
  path: ['task', 'cancel'],
  synopsis: 'task cancel ID',
  summary: 'cancel a task: a queued one at once, a running one by SIGTERM then SIGKILL',
  usage: verbUsage(
    'task cancel ID',
    `Cancels a task. A queued task is CANCELLED at once; a running one gets SIGTERM (its whole
process group), then SIGKILL after the agent's grace period, and is CANCELLED once it exits.`,
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    const [id] = expectPositionals('task cancel', positionals, ['ID']);
    const { response, agent } = await withCaller(values, io, (caller) => caller.call('cancelTask', { id }));
    if (values.json) return io.outExact(formatJsonLine(CancelTaskResponse.toJSON(response)));
    const task = response.task;
    const done = task && FINISHED.has(task.state);
    io.out(done ? `task ${id} ${taskStateLabel(task)}${onAgent(agent)}\n` : `cancelling task ${id}${onAgent(agent)}: SIGTERM sent\n`);
  },
};

const logs: Command = {
  path: ['task', 'logs'],
  synopsis: 'task logs ID [--follow]',
  summary: "print a task's output (--follow: until it ends)",
  usage: verbUsage(
    'task logs ID [--follow]',
    `Prints the task's output so far; with --follow, keeps printing until the task has ended
(resuming by itself if the agent restarts). The agent keeps the newest --task-log-cap bytes
of each task. With --json, one line per chunk: its logical offset and base64 data.`,
    `  --follow     keep printing until the task ends
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, { ...ROUTE_OPTIONS, follow: { type: 'boolean', default: false } });
    const [id] = expectPositionals('task logs', positionals, ['ID']);
    const interrupt = abortOnSignals();
    try {
      await withCaller(values, io, (caller) =>
        copyTaskLog(caller, id, {
          follow: values.follow,
          signal: interrupt.signal,
          emit: (chunk) => (values.json ? io.outExact(formatJsonLine(FollowTaskLogResponse.toJSON(chunk))) : io.outBytes(chunk.data)),
          notice: (text) => io.err(text),
        }),
      );
    } catch (err) {
      // Stopping a follow is how it is meant to end.
      if (!interrupt.signal.aborted) throw err;
    } finally {
      interrupt.dispose();
    }
  },
};

export const taskCommands: readonly Command[] = [run, ls, get, cancel, logs];
