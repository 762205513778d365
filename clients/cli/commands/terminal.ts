import { readFileSync } from 'node:fs';
import type { AttachTaskRequest, AttachTaskResponse } from '@grove/sdk/proto/agent/v1/agent_service.js';
import { ListProfilesResponse } from '@grove/sdk/proto/agent/v1/agent_service.js';
import { Task, TaskActivity } from '@grove/sdk/proto/agent/v1/resources.js';
import { createAgentClient, type AgentCaller } from '@grove/sdk';
import { expectPositionals, parseVerbArgs, ROUTE_FLAG_HELP, ROUTE_OPTIONS } from '../args.js';
import { withCaller } from '../caller.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { ExitError } from '../exit-error.js';
import { EXIT_STOPPED } from '../exit-status.js';
import { verbUsage } from '../help.js';
import { formatJsonLine } from '../output/json.js';
import { formatTable } from '../output/table.js';
import { UsageError } from '../usage-error.js';
import { taskExitStatus } from './task.js';

const DETACH_KEY = 0x1d; // Ctrl-]

/** The attach stream of `caller`: straight to the agent, or through the coordinator. */
function openAttach(
  caller: AgentCaller,
  requests: AsyncIterable<AttachTaskRequest>,
  signal: AbortSignal,
): AsyncIterable<AttachTaskResponse> {
  if (caller.kind === 'direct') return caller.agent.attachTask(requests, { signal });
  return caller.coordinator.attachTask(requests, { signal });
}

/** A queue of requests the attach stream reads as the user types. */
function requestQueue() {
  const items: AttachTaskRequest[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    push(item: AttachTaskRequest) {
      items.push(item);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<AttachTaskRequest> {
      for (;;) {
        const item = items.shift();
        if (item) {
          yield item;
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
  };
}

const attach: Command = {
  path: ['task', 'attach'],
  synopsis: 'task attach TASK [--read-only]',
  summary: 'attach this terminal to a terminal task: its screen, your keys (Ctrl-] detaches)',
  usage: verbUsage(
    'task attach TASK [--read-only]',
    `Attaches this terminal to a --tty task: the recent screen first, then live output; your keys
go to the task and its window follows yours. Ctrl-] detaches and leaves the task running.
Several people may attach at once; --read-only ones only watch. When the task ends while
attached, the exit status is the task's (as for task run --wait).`,
    `  --read-only  watch only: never type into the task or resize it
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, { ...ROUTE_OPTIONS, 'read-only': { type: 'boolean', default: false } });
    const [taskId] = expectPositionals('task attach', positionals, ['TASK']);
    const readOnly = values['read-only'];
    const stdin = process.stdin;
    const interactive = stdin.isTTY === true;
    const size = () => ({ cols: process.stdout.columns ?? 0, rows: process.stdout.rows ?? 0 });
    const requests = requestQueue();
    const stop = new AbortController();
    requests.push({ message: { $case: 'open', value: { taskId, readOnly, size: readOnly ? undefined : size() } } });
    const onKeys = (chunk: Buffer) => {
      const at = chunk.indexOf(DETACH_KEY);
      if (at >= 0) {
        if (at > 0 && !readOnly) requests.push({ message: { $case: 'input', value: chunk.subarray(0, at) } });
        stop.abort();
        return;
      }
      if (!readOnly) requests.push({ message: { $case: 'input', value: chunk } });
    };
    const onResize = () => requests.push({ message: { $case: 'resize', value: size() } });
    io.err(`attached to task ${taskId}${readOnly ? ' (read-only)' : ''}; Ctrl-] detaches\r\n`);
    if (interactive) stdin.setRawMode(true);
    stdin.on('data', onKeys);
    stdin.resume();
    if (!readOnly) process.stdout.on('resize', onResize);
    let ended: Task | undefined;
    try {
      await withCaller(values, io, async (caller) => {
        try {
          for await (const response of openAttach(caller, requests, stop.signal)) {
            const message = response.message;
            if (message?.$case === 'replay' || message?.$case === 'output') io.outBytes(message.value);
            else if (message?.$case === 'exited') ended = message.value;
          }
        } catch (err) {
          if (!stop.signal.aborted) throw err;
        }
      });
    } finally {
      requests.end();
      stdin.off('data', onKeys);
      process.stdout.off('resize', onResize);
      if (interactive) stdin.setRawMode(false);
      stdin.pause();
    }
    if (!ended) {
      io.err(`\r\ndetached from task ${taskId}; it goes on\r\n`);
      return;
    }
    const task: Task = ended;
    if (values.json) io.outExact(formatJsonLine(Task.toJSON(task)));
    const status = taskExitStatus(task);
    if (status !== 0)
      throw new ExitError(`task ${task.id} ended: ${task.reason || 'exit ' + task.exitCode}`, status === 130 ? EXIT_STOPPED : status);
    io.err(`task ${task.id} SUCCEEDED\n`);
  },
};

/** Backslash escapes in TEXT: \n \r \t \e \\ \xHH, for keys a shell cannot type into an argument. */
export function unescapeInput(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|[nrte\\])/g, (_, code: string) => {
    if (code.startsWith('x')) return String.fromCharCode(parseInt(code.slice(1), 16));
    return ({ n: '\n', r: '\r', t: '\t', e: '\x1b', '\\': '\\' } as Record<string, string>)[code]!;
  });
}

const send: Command = {
  path: ['task', 'send'],
  synopsis: 'task send TASK TEXT [--enter]',
  summary: 'type TEXT into a terminal task without attaching (scripts, approvals)',
  usage: verbUsage(
    'task send TASK TEXT [--enter]',
    `Writes TEXT to a --tty task's terminal as if typed, without attaching. --enter presses
Enter after it. Escapes in TEXT: \\n \\r \\t \\e (Escape) \\\\ and \\xHH.`,
    `  --enter      press Enter after TEXT
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, { ...ROUTE_OPTIONS, enter: { type: 'boolean', default: false } });
    const [taskId, text] = expectPositionals('task send', positionals, ['TASK', 'TEXT']);
    const data = Buffer.from(unescapeInput(text) + (values.enter ? '\r' : ''));
    const { response } = await withCaller(values, io, (caller) => caller.call('sendTaskInput', { taskId, data }));
    if (values.json) return io.outExact(formatJsonLine({ bytesWritten: response.bytesWritten }));
    io.out(`sent ${response.bytesWritten} bytes to task ${taskId}\n`);
  },
};

const ACTIVITIES: Record<string, TaskActivity> = {
  'needs-input': TaskActivity.TASK_ACTIVITY_NEEDS_INPUT,
  working: TaskActivity.TASK_ACTIVITY_WORKING,
  idle: TaskActivity.TASK_ACTIVITY_IDLE,
};

const signal: Command = {
  path: ['signal'],
  synopsis: 'signal needs-input|working|idle [--message TEXT]',
  summary: "inside a task: tell Grove what it is doing (shown as the session's activity)",
  usage: verbUsage(
    'signal needs-input|working|idle [--message TEXT]',
    `Run inside a Grove task (an agent's hook, a script): reports the task's activity. It reads
GROVE_TASK_ID, GROVE_TASK_SECRET and the agent's address (GROVE_AGENT_ADDRESS_FILE, else
GROVE_AGENT) from the task's environment; the secret proves the call comes from the task.`,
    `  --message T  what it waits for, shown beside the activity`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, { message: { type: 'string', default: '' } });
    const [name] = expectPositionals('signal', positionals, ['ACTIVITY']);
    const activity = ACTIVITIES[name];
    if (activity === undefined) throw new UsageError(`signal: activity must be needs-input, working or idle, not "${name}"`);
    const taskId = io.env.GROVE_TASK_ID;
    const secret = io.env.GROVE_TASK_SECRET;
    if (!taskId || !secret) throw new UsageError('signal: run it inside a Grove task (GROVE_TASK_ID and GROVE_TASK_SECRET are not set)');
    let address = io.env.GROVE_AGENT ?? '';
    try {
      if (io.env.GROVE_AGENT_ADDRESS_FILE) address = readFileSync(io.env.GROVE_AGENT_ADDRESS_FILE, 'utf8').trim() || address;
    } catch {
      // the agent is not serving right now; GROVE_AGENT may still be right
    }
    if (!address) throw new UsageError('signal: the agent address is not known (GROVE_AGENT)');
    const agent = createAgentClient({ address });
    try {
      const { task } = await agent.signalTask({ taskId, secret, activity, message: values.message });
      if (values.json && task) io.outExact(formatJsonLine(Task.toJSON(task)));
    } finally {
      agent.close();
    }
  },
};

const profiles: Command = {
  path: ['profile', 'ls'],
  synopsis: 'profile ls',
  summary: 'list the agent profiles (built-in and the agent --profiles file)',
  usage: verbUsage(
    'profile ls',
    `Lists the profiles tasks can start from (task run SESSION --profile NAME [--prompt P] [--tty]
[--continue]): the built-ins, and the agent's own from its --profiles file.`,
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    expectPositionals('profile ls', positionals, []);
    const { response } = await withCaller(values, io, (caller) => caller.call('listProfiles', {}));
    if (values.json) return io.outExact(formatJsonLine(ListProfilesResponse.toJSON(response)));
    io.out(
      formatTable([
        ['NAME', 'COMMAND', 'ACTIVITY', 'SOURCE', 'DESCRIPTION'],
        ...response.profiles.map((p) => [p.name, p.command, p.activityHooks, p.source, p.description]),
      ]),
    );
  },
};

export const terminalCommands: readonly Command[] = [attach, send, signal, profiles];
