import { Event } from '@grove/sdk/proto/agent/v1/resources.js';
import { WatchResponse } from '@grove/sdk/proto/coordinator/v1/coordinator_service.js';
import type { CoordinatorClient, ReconnectInfo } from '@grove/sdk';
import { expectPositionals, integerFlag, parseVerbArgs } from '../args.js';
import { UsageError } from '../usage-error.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { withAgent, withCoordinator } from '../connect.js';
import { verbUsage } from '../help.js';
import { abortOnSignals } from '../interrupt.js';
import { formatTime } from '../output/format.js';
import { formatJsonLine } from '../output/json.js';
import { SessionBoard } from '../output/session-board.js';
import { agentTarget, coordinatorTarget } from '../target.js';

// Streamed lines cannot be aligned after the fact, so columns have fixed widths.
function eventLine(event: Event): string {
  const deleted = event.deleted ? ' (deleted)' : '';
  return `${String(event.revision).padStart(6)}  ${formatTime(event.time)}  ${event.type.padEnd(18)}  ${event.resource}${deleted}\n`;
}

function coordinatorLine(response: WatchResponse): string {
  const change = response.change;
  const what =
    change?.$case === 'event'
      ? `${change.value.type.padEnd(18)}  ${change.value.resource}${change.value.deleted ? ' (deleted)' : ''}`
      : change?.$case === 'agent'
        ? `${'agent'.padEnd(18)}  agents/${change.value.id}`
        : change?.$case === 'group'
          ? `${'group'.padEnd(18)}  groups/${change.value.id}`
          : response.snapshotDone
            ? 'snapshot done'
            : '';
  return `${String(response.revision).padStart(6)}  ${response.agentId.padEnd(26)}  ${what}\n`;
}

function reconnectNotice(info: ReconnectInfo): string {
  const why = info.error ? info.error.message : 'the agent closed the stream';
  return `grove: watch interrupted (${why}); resuming after revision ${info.afterRevision} in ${Math.round(info.delayMs)}ms\n`;
}

// Redraws are batched: a burst of changes (the snapshot, a busy agent) is one repaint.
const REDRAW_MS = 100;
const CLEAR_SCREEN = '\x1b[H\x1b[2J';

/**
 * On a terminal, `watch --coordinator` is a table of every session, redrawn as changes
 * arrive. `limit` counts changes after the initial snapshot.
 */
async function liveSessionTable(
  coordinator: CoordinatorClient,
  io: CliIo,
  signal: AbortSignal,
  limit: number,
  agent: string,
): Promise<void> {
  const board = new SessionBoard();
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    timer = undefined;
    io.outExact(CLEAR_SCREEN);
    io.out(board.render());
  };
  let remaining = limit;
  try {
    const stream = coordinator.watch({ initialSnapshot: true, agent, kinds: ['agent', 'session'] }, { signal });
    for await (const response of stream) {
      const live = board.ready;
      board.apply(response);
      if (board.ready) timer ??= setTimeout(draw, REDRAW_MS);
      if (live && --remaining === 0) break;
    }
  } finally {
    if (timer) clearTimeout(timer);
    if (board.ready) draw();
  }
}

const watch: Command = {
  path: ['watch'],
  synopsis: 'watch [--after REV] [--limit N] [--coordinator ADDR [--on AGENT]]',
  summary: "stream the agent's events (the coordinator's with --coordinator)",
  usage: verbUsage(
    'watch [--after REV] [--limit N] [--coordinator ADDR [--on AGENT]]',
    `Streams events: the retained backlog after REV, then live ones, until interrupted. Against
an agent the stream resumes by itself after a dropped connection or an agent restart,
without gaps or repeats. With --coordinator it streams the coordinator's projection: a
snapshot of the current state then its changes, or only the changes after --after REV;
on a terminal (without --json) that is a table of every agent's sessions (AGENT SESSION
BRANCH STATE ACTIVITY) redrawn as they change. --on AGENT keeps to one agent's changes:
the coordinator's projection of that agent, resumable like the rest (no tunnel needed).`,
    `  --after REV  only events with a revision greater than REV (agent default 0: the whole log)
  --limit N    exit after N events (default 0: no limit; for the table, N changes after
               the snapshot)
  --on AGENT   with --coordinator: only this agent's changes (id or name)`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {
      after: { type: 'string' },
      limit: { type: 'string' },
      on: { type: 'string' },
    });
    if (values.on !== undefined && !values.coordinator) throw new UsageError('watch: --on AGENT goes with --coordinator');
    const agent = values.on ?? '';
    expectPositionals('watch', positionals, []);
    const after = integerFlag('after', values.after, 0);
    const fromStart = values.after === undefined;
    const limit = integerFlag('limit', values.limit, 0);
    const interrupt = abortOnSignals();
    let remaining = limit || Infinity;
    try {
      if (values.coordinator && io.isTTY && !values.json) {
        await withCoordinator(coordinatorTarget(values, io), (coordinator) =>
          liveSessionTable(coordinator, io, interrupt.signal, remaining, agent),
        );
        return;
      }
      if (values.coordinator) {
        await withCoordinator(coordinatorTarget(values, io), async (coordinator) => {
          // Coordinator revisions are not small integers from 1: without --after, start from
          // a snapshot of the current state rather than from a revision it never had.
          const request = fromStart ? { initialSnapshot: true, agent } : { fromRevision: after, agent };
          const stream = coordinator.watch(request, { signal: interrupt.signal });
          for await (const response of stream) {
            if (values.json) io.outExact(formatJsonLine(WatchResponse.toJSON(response)));
            else io.out(coordinatorLine(response));
            if (--remaining === 0) break;
          }
        });
        return;
      }
      await withAgent(agentTarget(values, io), async (agent) => {
        // Fail fast, with the real error, when the agent is not there at all: the watch
        // itself would keep retrying, which is right only once it has been reached.
        await agent.getAgentInfo({});
        const events = agent.watch({
          afterRevision: after,
          signal: interrupt.signal,
          onReconnect: (info) => io.err(reconnectNotice(info)),
        });
        for await (const event of events) {
          if (values.json) io.outExact(formatJsonLine(Event.toJSON(event)));
          else io.out(eventLine(event));
          if (--remaining === 0) break;
        }
      });
    } catch (err) {
      // An interrupt is how a watch is meant to end.
      if (!interrupt.signal.aborted) throw err;
    } finally {
      interrupt.dispose();
    }
  },
};

export const watchCommands: readonly Command[] = [watch];
