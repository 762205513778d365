import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SessionActivity, SessionState, WorktreeState, type Repo, type Session } from '../gen/grove/agent/v1/resources.js';
import { newId } from '../services/common/ids.js';
import { killAndWait, tracked } from './child-processes.js';

/**
 * One simulated agent: the agent's own link client (`startLink`: Hello, chunked snapshots
 * when asked, heartbeats, redial with the agent's backoff) over an in-memory event log and
 * a fixed set of sessions. No database, no git: what it costs the coordinator is all that
 * is measured. Agents live in a few worker processes (`coordinator-fleet-worker.ts`), so a
 * thousand of them do not share one event loop with the watchers that time them.
 */
export interface SimulatedAgent {
  id: string;
  name: string;
  /** Sends one `session.updated` event for session `index`, retitled `title`. */
  touch(index: number, title: string): void;
}

/** How one agent's link fared, as the agent saw it. */
export interface LinkStats {
  /** Links the coordinator welcomed since the agent started. */
  welcomes: number;
  state: string;
  lastError: string;
}

export interface Fleet {
  agents: SimulatedAgent[];
  /** Every agent's link statistics, in `agents` order. */
  stats(): Promise<LinkStats[]>;
  /** The worker processes' ids (for their CPU time). */
  pids: number[];
  close(): Promise<void>;
}

export interface FleetOptions {
  agents: number;
  sessionsPerAgent: number;
  /** Labels `team=t<k>` cycle through this many values, for label-filtered pages. */
  teams: number;
  /** Agents per worker process (default 250). */
  agentsPerProcess?: number | undefined;
}

/** Parent → worker. */
export type WorkerCommand =
  { type: 'touch'; agent: number; index: number; title: string } | { type: 'stats'; request: number } | { type: 'close' };

/** Worker → parent. */
export type WorkerReport =
  { type: 'agents'; agents: Array<{ id: string; name: string }> } | { type: 'stats'; request: number; stats: LinkStats[] };

/** What a worker is told on its command line (one JSON argument). */
export interface WorkerArgs {
  coordinator: string;
  first: number;
  count: number;
  sessionsPerAgent: number;
  teams: number;
}

const WORKER_MAIN = fileURLToPath(new URL('./coordinator-fleet-worker.js', import.meta.url));
const DEFAULT_AGENTS_PER_PROCESS = 250;

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

function send(child: ChildProcess, command: WorkerCommand): void {
  if (child.connected) child.send(command);
}

/** Starts `options.agents` simulated agents over a few processes; resolves once every agent's link is started. */
export async function startFleet(address: string, options: FleetOptions): Promise<Fleet> {
  const perProcess = options.agentsPerProcess ?? DEFAULT_AGENTS_PER_PROCESS;
  const workers: ChildProcess[] = [];
  const stop = async () => {
    for (const worker of workers) send(worker, { type: 'close' });
    // A worker closes its links and exits; one that lingers is killed.
    await Promise.all(
      workers.map(async (worker) => {
        const timer = setTimeout(() => worker.kill('SIGKILL'), 5000);
        await killAndWaitGently(worker);
        clearTimeout(timer);
      }),
    );
  };
  try {
    const started: Array<Promise<SimulatedAgent[]>> = [];
    for (let first = 0; first < options.agents; first += perProcess) {
      const args: WorkerArgs = {
        coordinator: address,
        first,
        count: Math.min(perProcess, options.agents - first),
        sessionsPerAgent: options.sessionsPerAgent,
        teams: options.teams,
      };
      const worker = tracked(fork(WORKER_MAIN, [JSON.stringify(args)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
      workers.push(worker);
      started.push(
        new Promise<SimulatedAgent[]>((resolve, reject) => {
          worker.once('exit', (code, signal) => reject(new Error(`fleet worker exited (${code ?? signal}) before its agents started`)));
          worker.on('message', (report: WorkerReport) => {
            if (report.type !== 'agents') return;
            resolve(
              report.agents.map(({ id, name }, agent) => ({
                id,
                name,
                touch: (index, title) => send(worker, { type: 'touch', agent, index, title }),
              })),
            );
          });
        }),
      );
    }
    const agents = (await Promise.all(started)).flat();
    let requests = 0;
    const statsOf = (worker: ChildProcess) =>
      new Promise<LinkStats[]>((resolve, reject) => {
        const request = ++requests;
        const timer = setTimeout(() => reject(new Error('a fleet worker did not answer for its stats')), 10_000);
        const onMessage = (report: WorkerReport) => {
          if (report.type !== 'stats' || report.request !== request) return;
          clearTimeout(timer);
          worker.off('message', onMessage);
          resolve(report.stats);
        };
        worker.on('message', onMessage);
        send(worker, { type: 'stats', request });
      });
    return {
      agents,
      stats: async () => (await Promise.all(workers.map(statsOf))).flat(),
      pids: workers.map((worker) => worker.pid!),
      close: stop,
    };
  } catch (err) {
    await Promise.all(workers.map(killAndWait));
    throw err;
  }
}

/** Resolves once `child` has exited (of its own accord or killed by someone else). */
function killAndWaitGently(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => child.once('exit', () => resolve()));
}
