import { setMaxListeners } from 'node:events';
import { createChannel, createClient, type Channel } from 'nice-grpc';
import { SessionActivity, SessionState, WorktreeState, type Event, type Repo, type Session } from '../gen/grove/agent/v1/resources.js';
import { LinkServiceDefinition, type ConnectRequest } from '../gen/grove/link/v1/link.js';
import { AsyncQueue } from '../services/common/async-queue.js';
import { newId } from '../services/common/ids.js';

/**
 * One simulated agent: a real LinkService.Connect stream saying Hello, sending a Snapshot of
 * its sessions when asked, heartbeats, and session updates on demand. No database, no git:
 * what it costs the coordinator is all that is measured.
 */
export interface SimulatedAgent {
  id: string;
  name: string;
  sessions: Session[];
  /** Sends one `session.updated` event for session `index`, retitled `title`. */
  touch(index: number, title: string): void;
}

export interface Fleet {
  agents: SimulatedAgent[];
  close(): void;
}

export interface FleetOptions {
  agents: number;
  sessionsPerAgent: number;
  /** Labels `team=t<k>` cycle through this many values, for label-filtered pages. */
  teams: number;
  /** How often each agent heartbeats (default 1s, twice what a coordinator asks by default). */
  heartbeatMs?: number | undefined;
}

// The revision an agent claims at Hello; its snapshot carries it and events follow it.
const START_REVISION = 100;
const DEFAULT_HEARTBEAT_MS = 1000;

export function sessionOf(agentIndex: number, index: number, repo: Repo, teams: number): Session {
  const now = new Date();
  return {
    id: newId('ses'),
    title: `session ${index} of agent ${agentIndex}`,
    branch: `feature/a${agentIndex}-s${index}`,
    base: 'main',
    state: SessionState.SESSION_STATE_ACTIVE,
    activity: index % 7 === 0 ? SessionActivity.SESSION_ACTIVITY_WORKING : SessionActivity.SESSION_ACTIVITY_IDLE,
    worktrees: [
      {
        repoId: repo.id,
        repoName: repo.name,
        path: `/work/worktrees/a${agentIndex}/s${index}`,
        branch: `feature/a${agentIndex}-s${index}`,
        state: WorktreeState.WORKTREE_STATE_ACTIVE,
        preservedRef: '',
        lastError: '',
        drift: '',
        removedIgnored: [],
        removedIgnoredTotal: 0,
        copied: [],
        teardownError: '',
      },
    ],
    labels: { team: `t${(agentIndex * 100 + index) % teams}` },
    createTime: now,
    updateTime: now,
    agentId: '',
    lastSeenTime: undefined,
    pendingJobId: '',
    lastError: '',
    landings: [],
    ports: [],
  };
}

/** Links `options.agents` simulated agents, each on its own connection; resolves once all sent their snapshot. */
export async function startFleet(address: string, options: FleetOptions): Promise<Fleet> {
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const channels: Channel[] = [];
  const timers: NodeJS.Timeout[] = [];

  async function link(agentIndex: number): Promise<SimulatedAgent> {
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
    const sessions = Array.from({ length: options.sessionsPerAgent }, (_, i) => sessionOf(agentIndex, i, repo, options.teams));
    const channel = createChannel(address);
    channels.push(channel);
    const outbox = new AsyncQueue<ConnectRequest>();
    let revision = START_REVISION;
    outbox.push({
      message: {
        $case: 'hello',
        value: {
          agentId: id,
          name,
          labels: { sim: 'yes' },
          version: 'bench',
          revision,
          oldestRevision: 1,
          instanceId: id,
          maxRunningTasks: 0,
          freeDiskBytes: 0,
          agentNonce: Buffer.alloc(0),
        },
      },
    });
    const responses = createClient(LinkServiceDefinition, channel).connect(outbox.drain(stop.signal), { signal: stop.signal });
    const iterator = responses[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done || first.value.message?.$case !== 'welcome') throw new Error(`${name}: no welcome`);
    if (first.value.message.value.wantSnapshot) {
      outbox.push({
        message: { $case: 'snapshot', value: { revision, repos: [repo], sessions, tasks: [], jobs: [], syncs: [], locks: [] } },
      });
    }
    timers.push(
      setInterval(
        () => outbox.push({ message: { $case: 'heartbeat', value: { revision, time: new Date(), freeDiskBytes: 0 } } }),
        options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
      ),
    );
    // Nothing is routed to simulated agents; keep reading so the stream stays healthy.
    void (async () => {
      try {
        for (let next = await iterator.next(); !next.done; next = await iterator.next());
      } catch {
        // the bench is closing
      }
    })();
    return {
      id,
      name,
      sessions,
      touch(index, title) {
        const session = sessions[index % sessions.length]!;
        session.title = title;
        session.updateTime = new Date();
        const event: Event = {
          revision: ++revision,
          type: 'session.updated',
          resource: `sessions/${session.id}`,
          time: session.updateTime,
          deleted: false,
          payload: { $case: 'session', value: session },
        };
        outbox.push({ message: { $case: 'event', value: event } });
      },
    };
  }

  const agents: SimulatedAgent[] = [];
  // A few at a time: a hundred snapshots at once is a thundering herd, not a fleet.
  for (let i = 0; i < options.agents; i += 10) {
    agents.push(...(await Promise.all(Array.from({ length: Math.min(10, options.agents - i) }, (_, k) => link(i + k)))));
  }
  return {
    agents,
    close() {
      for (const timer of timers) clearInterval(timer);
      stop.abort();
      for (const channel of channels) channel.close();
    },
  };
}
