import { tmpdir } from 'node:os';
import type { Event, Repo, Session, Snapshot } from '../gen/grove/agent/v1/resources.js';
import type { AgentContext, LinkStatus } from '../services/agent/agent-context.js';
import { startLink, type RunningLink } from '../services/agent/link/link-client.js';
import { outOfRange } from '../services/common/errors.js';
import { newId } from '../services/common/ids.js';
import { createLogger } from '../services/common/logging.js';
import { sessionOf, type LinkStats, type WorkerArgs, type WorkerCommand, type WorkerReport } from './coordinator-fleet.js';

/**
 * A fleet worker: `count` simulated agents, each with the agent's real link client over a
 * context that holds only what the link reads (identity, an in-memory event log, a
 * snapshot of fixed sessions). Started by `startFleet`; exits when told to or when its
 * parent goes (the IPC channel closes), so it never outlives the bench.
 */

// The revision an agent claims at Hello; its snapshot carries it and events follow it.
const START_REVISION = 100;
// Events kept for a coordinator that resumes; older ones are "compacted".
const RETAINED_EVENTS = 1000;

/** The part of the agent's event log the link uses: bounds and a live watch. */
class MemoryEventLog {
  private readonly events: Event[] = [];
  private newest = START_REVISION;
  private readonly waiters = new Set<() => void>();

  get revision(): number {
    return this.newest;
  }

  append(event: Omit<Event, 'revision'>): void {
    this.events.push({ ...event, revision: ++this.newest });
    if (this.events.length > RETAINED_EVENTS) this.events.shift();
    for (const wake of [...this.waiters]) wake();
  }

  bounds(): Promise<{ oldest: number; newest: number }> {
    return Promise.resolve({ oldest: this.events[0]?.revision ?? this.newest + 1, newest: this.newest });
  }

  async *watch(after: number, signal: AbortSignal): AsyncGenerator<Event> {
    if (after > this.newest) throw outOfRange('REVISION_AHEAD', `revision ${after} is ahead of ${this.newest}`);
    let cursor = after;
    while (!signal.aborted) {
      const oldest = this.events[0]?.revision ?? this.newest + 1;
      if (cursor < oldest - 1) throw outOfRange('REVISION_COMPACTED', `revision ${cursor} is compacted; the oldest is ${oldest}`);
      // By revision each time: the log may have moved on while the consumer held the last one.
      const next = this.events[cursor + 1 - oldest];
      if (next) {
        yield next;
        cursor = next.revision;
      } else {
        await this.changed(signal);
      }
    }
  }

  private changed(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

interface Agent {
  id: string;
  name: string;
  sessions: Session[];
  events: MemoryEventLog;
  status: LinkStatus;
  link: RunningLink;
}

const args = JSON.parse(process.argv[2] ?? '{}') as WorkerArgs;
const shutdown = new AbortController();
const log = createLogger({ level: 'silent' });
const worktreeRoot = tmpdir();

function startAgent(agentIndex: number): Agent {
  const id = newId('agt');
  const name = `sim-${String(agentIndex).padStart(3, '0')}`;
  const repo: Repo = {
    id: newId('rep'),
    name: 'app',
    path: `/src/app-${agentIndex}`,
    defaultBranch: 'main',
    createTime: new Date(),
    keepIgnored: [],
    setup: '',
    teardown: '',
    copy: [],
  };
  const sessions = Array.from({ length: args.sessionsPerAgent }, (_, i) => sessionOf(agentIndex, i, repo, args.teams));
  const events = new MemoryEventLog();
  const status: LinkStatus = { coordinator: args.coordinator, state: 'connecting', lastError: '', welcomes: 0 };
  // Only what runLinkConnection reads; the command handlers are built but never called
  // (nothing is routed to a simulated agent).
  const context = {
    identity: { id, name, labels: { sim: 'yes' }, version: 'bench' },
    worktreeRoot,
    log,
    store: { events },
    maxRunningTasks: 0,
    links: [status],
    shutdown: shutdown.signal,
    snapshot: (): Promise<Snapshot> =>
      Promise.resolve({ revision: events.revision, repos: [repo], sessions, tasks: [], jobs: [], syncs: [], locks: [] }),
  } as unknown as AgentContext;
  const link = startLink({ coordinator: args.coordinator, context, status, log });
  return { id, name, sessions, events, status, link };
}

const agents: Agent[] = Array.from({ length: args.count }, (_, k) => startAgent(args.first + k));
const report = (message: WorkerReport) => process.send?.(message);
report({ type: 'agents', agents: agents.map(({ id, name }) => ({ id, name })) });

async function close(): Promise<void> {
  shutdown.abort();
  await Promise.allSettled(agents.map((agent) => agent.link.close()));
  process.exit(0);
}

process.on('message', (command: WorkerCommand) => {
  switch (command.type) {
    case 'touch': {
      const agent = agents[command.agent]!;
      const session = agent.sessions[command.index % agent.sessions.length]!;
      session.title = command.title;
      session.updateTime = new Date();
      agent.events.append({
        type: 'session.updated',
        resource: `sessions/${session.id}`,
        time: session.updateTime,
        deleted: false,
        payload: { $case: 'session', value: session },
      });
      break;
    }
    case 'stats': {
      const stats: LinkStats[] = agents.map(({ status }) => ({
        welcomes: status.welcomes,
        state: status.state,
        lastError: status.lastError,
      }));
      report({ type: 'stats', request: command.request, stats });
      break;
    }
    case 'close':
      void close();
      break;
  }
});
// The parent went away (or closed the channel): nothing left to do here.
process.on('disconnect', () => void close());
