import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAgentClient, createCoordinatorClient, type AgentClient, type CoordinatorClient } from '../clients/sdk/index.js';
import type { AttachTaskRequest, AttachTaskResponse } from '../gen/grove/agent/v1/agent_service.js';
import { TaskState } from '../gen/grove/agent/v1/resources.js';
import { AgentStatus } from '../gen/grove/coordinator/v1/coordinator_service.js';
import type { Bench, BenchCase } from './bench-case.js';
import { generateRepo, until } from './fixtures.js';

// Compiled to dist/bench/: the services and the test fixtures are found from there.
const AGENT_MAIN = fileURLToPath(new URL('../services/agent/main.js', import.meta.url));
const COORDINATOR_MAIN = fileURLToPath(new URL('../services/coordinator/main.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
// Long enough for the whole bench; the fixtures stop by themselves after it whatever happens.
const FIXTURE_BOUND_MS = '600000';

function spawnService(main: string, args: string[], dataDir: string): { child: ChildProcess; ready: Promise<string> } {
  const readyFile = join(dataDir, 'ready');
  const child = spawn(process.execPath, [main, ...args, '--data-dir', dataDir, '--ready-file', readyFile, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const ready = until(() => (existsSync(readyFile) ? readFileSync(readyFile, 'utf8').trim() || undefined : undefined), main);
  return { child, ready };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  return exited;
}

/** An attached terminal: keystrokes in, and a wait for text to come back after them. */
class Attached {
  private output = '';
  private mark = 0;
  private waiter: { text: string; resolve: () => void } | undefined;
  private readonly queue: AttachTaskRequest[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(attach: (requests: AsyncIterable<AttachTaskRequest>) => AsyncIterable<AttachTaskResponse>, taskId: string) {
    this.queue.push({ message: { $case: 'open', value: { taskId, readOnly: false, size: undefined } } });
    void (async () => {
      for await (const response of attach(this.requests())) {
        const message = response.message;
        if (message?.$case !== 'replay' && message?.$case !== 'output') continue;
        this.output += message.value.toString('latin1');
        // Only what came back after the keystroke counts: the output seen so far is dropped.
        if (this.waiter && this.output.indexOf(this.waiter.text, this.mark) >= 0) {
          const { resolve } = this.waiter;
          this.waiter = undefined;
          resolve();
        }
        if (this.output.length > 1 << 16) {
          this.mark = Math.max(0, this.mark - (this.output.length - 4096));
          this.output = this.output.slice(-4096);
        }
      }
    })().catch(() => undefined);
  }

  private async *requests(): AsyncGenerator<AttachTaskRequest> {
    for (;;) {
      while (this.queue.length > 0) yield this.queue.shift()!;
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Types `keys` and resolves once `expected` has come back after them. */
  type(keys: string, expected: string): Promise<void> {
    this.mark = this.output.length;
    const seen = new Promise<void>((resolve) => (this.waiter = { text: expected, resolve }));
    this.queue.push({ message: { $case: 'input', value: Buffer.from(keys) } });
    this.wake?.();
    return seen;
  }

  seen(text: string): Promise<void> {
    return until(() => (this.output.includes(text) ? true : undefined), `"${text}" on the terminal`).then(() => undefined);
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }
}

/**
 * Keystroke echo through an attached terminal (one key in, its echo from the terminal's line
 * discipline back out), through the coordinator's tunnel against a direct attach to the
 * agent, while another terminal on the same agent floods its attach, also through the
 * coordinator, at whatever rate it can be read. Agent and coordinator are processes of their
 * own, so the three event loops are not one.
 */
export const terminalEchoBench: Bench = {
  name: 'terminal-echo',
  options: { calls: 400, warmupCalls: 40, rounds: 10 },
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'grove-bench-term-'));
    const coordinator = spawnService(COORDINATOR_MAIN, ['--listen', '127.0.0.1:0', '--no-http'], join(dir, 'coordinator'));
    const coordinatorAddress = await coordinator.ready;
    const agent = spawnService(AGENT_MAIN, ['--listen', '127.0.0.1:0', '--coordinator', coordinatorAddress], join(dir, 'agent'));
    const agentAddress = await agent.ready;
    const direct: AgentClient = createAgentClient({ address: agentAddress, defaultDeadlineMs: 60_000 });
    const routed: CoordinatorClient = createCoordinatorClient({ address: coordinatorAddress, defaultDeadlineMs: 60_000 });
    const stopFile = join(dir, 'stop');
    const attached: Attached[] = [];
    try {
      await until(
        async () => ((await routed.listAgents({})).agents[0]?.status === AgentStatus.AGENT_STATUS_CONNECTED ? true : undefined),
        'the agent to link',
      );
      const { repo } = await direct.addRepo({ path: generateRepo(join(dir, 'repo'), 10), name: 'repo' });
      const startTerminal = async (branch: string, argv: string[]) => {
        const { session } = await direct.createSession({ repoIds: [repo!.id], branch });
        const { task } = await direct.startTask({ sessionId: session!.id, argv, tty: true });
        await until(async () => {
          const seen = await direct.getTask({ id: task!.id });
          const known = (await routed.listTasks({ sessionId: session!.id })).tasks.length > 0;
          return seen.state === TaskState.TASK_STATE_RUNNING && seen.pid > 0 && known ? true : undefined;
        }, 'the terminal task to run');
        return task!.id;
      };
      const echoTask = await startTerminal('echo', [process.execPath, join(FIXTURES, 'echo-terminal.mjs'), FIXTURE_BOUND_MS]);
      const floodTask = await startTerminal('flood', [process.execPath, join(FIXTURES, 'flood-terminal.mjs'), stopFile, FIXTURE_BOUND_MS]);
      // The flood is read as fast as it comes, through the coordinator: real load on the link's channel.
      const flood = new Attached((requests) => routed.attachTask(requests), floodTask);
      const viaAgent = new Attached((requests) => direct.attachTask(requests), echoTask);
      const viaCoordinator = new Attached((requests) => routed.attachTask(requests), echoTask);
      attached.push(flood, viaAgent, viaCoordinator);
      await Promise.all([flood.seen('flood'), viaAgent.seen('ready'), viaCoordinator.seen('ready')]);

      const keystroke = (name: string, terminal: Attached): BenchCase => ({
        name,
        call: () => terminal.type('k', 'k'),
        // Untimed: end the line, so the terminal's line buffer never fills.
        reset: () => terminal.type('\r', 'got k'),
      });
      return {
        baseline: keystroke('keystroke echo, direct attach (flood running)', viaAgent),
        cases: [keystroke('keystroke echo, through the coordinator (flood running)', viaCoordinator)],
        targeted: new Set<string>(),
        targetRatio: Number.POSITIVE_INFINITY,
        async teardown() {
          writeFileSync(stopFile, '');
          for (const id of [echoTask, floodTask]) await direct.cancelTask({ id });
          await until(async () => {
            const tasks = await Promise.all([echoTask, floodTask].map((id) => direct.getTask({ id })));
            return tasks.every((t) => t.state !== TaskState.TASK_STATE_RUNNING) ? true : undefined;
          }, 'the terminal tasks to end');
          for (const terminal of attached) terminal.close();
          direct.close();
          routed.close();
          await Promise.all([stop(agent.child), stop(coordinator.child)]);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      writeFileSync(stopFile, '');
      agent.child.kill('SIGKILL');
      coordinator.child.kill('SIGKILL');
      throw err;
    }
  },
};
