import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Profile, StartTaskRequest } from '../../../gen/grove/agent/v1/agent_service.js';
import { SessionState, WorktreeState, type RecoverySummary, type Task } from '../../../gen/grove/agent/v1/resources.js';
import { failedPrecondition, notFound } from '../../common/errors.js';
import { newId } from '../../common/ids.js';
import { KeyedMutex } from '../../common/keyed-mutex.js';
import type { Logger } from '../../common/logging.js';
import { crashPoint } from '../crash-points.js';
import type { TaskEventType } from '../domain/event-types.js';
import { mergeProfiles, type ProfileSpec } from '../domain/profiles.js';
import { DEFAULT_QUIET_MS, STARTED, type Activity } from '../domain/task-activity.js';
import type { DiskGuard } from '../procs/disk-space.js';
import { finalTaskState, isFinished, nextTaskState, type RunOutcome } from '../domain/task-lifecycle.js';
import type { LockService } from '../procs/lock-service.js';
import {
  groupMembers,
  identityOf,
  orphanedGroupMembers,
  probeProcess,
  probeTaskProcesses,
  type ProcessIdentity,
} from '../procs/proc-info.js';
import type { SessionService } from '../sessions/session-service.js';
import { SessionSchema, TaskSchema, type TaskRow } from '../store/entities.js';
import type { Store, Tx } from '../store/store.js';
import { toTaskProto } from './task-mapper.js';
import { createQueuedTask, emitTask } from './task-rows.js';
import { settleSetup } from './setup-tasks.js';
import { TaskAdmission } from './task-admission.js';
import { TaskReads } from './task-reads.js';
import { dropOldTasks } from './task-retention.js';
import { logTail } from './task-logs.js';
import { applyProfile, toProfileProto } from './task-profiles.js';
import { checkQueueRoom, validateTaskRequest } from './task-request.js';
import { checkTerminalRequest, hashSecret, TaskTerminals, terminalLeader } from './task-terminals.js';
import { HOOKS_FILE_NAME, prepareRunDir } from './run-dir.js';

export interface TaskServiceOptions {
  store: Store;
  locks: LockService;
  sessions: SessionService;
  dataDir: string;
  log: Logger;
  /** Newest tasks kept per session; older finished ones are deleted with their logs. */
  retention?: number | undefined;
  /** Log bytes kept per task (the tail). */
  logCapBytes?: number | undefined;
  /** Time between SIGTERM and SIGKILL on cancel. */
  cancelGraceMs?: number | undefined;
  /** How often running tasks are probed (own children are also noticed at once). */
  pollMs?: number | undefined;
  /** Told after a task of the session ended (sync brings its commits over). */
  onTaskEnded?: ((sessionId: string) => void) | undefined;
  /** Built-in and user agent profiles. */
  profiles?: ProfileSpec[] | undefined;
  /** The file holding the agent's current address, which tasks reach it at (`grove signal`). */
  agentAddressFile?: string | undefined;
  /** Output quiet this long, with the terminal's foreground reading it: NEEDS_INPUT. */
  needsInputQuietMs?: number | undefined;
  /** Tasks running at once across all sessions (0: no bound); the rest wait QUEUED, oldest first. */
  maxRunningTasks?: number | undefined;
  /** Refuses new tasks while the disk is below --min-free-disk. */
  disk?: DiskGuard | undefined;
}

const DEFAULT_SIZE = { cols: 80, rows: 24 };

// The runner sits next to this module's compiled sibling in dist/.
const RUNNER = fileURLToPath(new URL('../procs/runner.js', import.meta.url));

/**
 * Tasks: queued per session (one RUNNING at a time, in seq order), run through a detached
 * runner that survives the agent, observed by probing the runner and its exit file. What a
 * task's state says is always what a probe of reality said last.
 */
export class TaskService {
  private readonly mutex = new KeyedMutex();
  private readonly running = new Map<string, { pid: number; sessionId: string }>();
  /** Tasks whose runner died with processes left in its group, being stopped. */
  private readonly orphanStops = new Map<string, { since: number; killed: boolean }>();
  private readonly store: Store;
  private readonly locks: LockService;
  private readonly sessions: SessionService;
  private readonly tasksDir: string;
  private readonly log: Logger;
  private readonly retention: number;
  private readonly logCapBytes: number;
  private readonly cancelGraceMs: number;
  private readonly pollMs: number;
  private readonly onTaskEnded: (sessionId: string) => void;
  private readonly profiles: ProfileSpec[];
  private readonly agentAddressFile: string;
  private readonly disk: DiskGuard | undefined;
  private readonly admission: TaskAdmission;
  readonly terminals: TaskTerminals;
  /** Reads of tasks and their logs; they never change anything. */
  readonly reads: TaskReads;
  private monitor: NodeJS.Timeout | undefined;
  private monitorTicks = 0;
  private stopped = false;
  /** Probes running now (check), so stop() can wait for them. */
  private readonly probing = new Set<Promise<void>>();
  /** Scheduling in flight (a look at the queue, a launch): stop waits for it. */
  private readonly scheduling = new Set<Promise<void>>();

  constructor(options: TaskServiceOptions) {
    this.store = options.store;
    this.locks = options.locks;
    this.sessions = options.sessions;
    this.tasksDir = join(options.dataDir, 'tasks');
    this.log = options.log;
    this.retention = options.retention ?? 1000;
    this.logCapBytes = options.logCapBytes ?? 8 * 1024 * 1024;
    this.cancelGraceMs = options.cancelGraceMs ?? 5000;
    this.pollMs = options.pollMs ?? 250;
    this.onTaskEnded = options.onTaskEnded ?? (() => undefined);
    this.profiles = options.profiles ?? mergeProfiles([]);
    this.agentAddressFile = options.agentAddressFile ?? '';
    this.admission = new TaskAdmission(this.store, options.maxRunningTasks ?? 0, this.log);
    this.disk = options.disk;
    this.reads = new TaskReads(this.store, this.sessions);
    this.terminals = new TaskTerminals({
      store: this.store,
      log: this.log,
      find: (id) => this.reads.find(id),
      settle: (id) => this.check(id),
      recordActivity: (task, next) => this.recordActivity(task, next),
      quietMs: options.needsInputQuietMs ?? DEFAULT_QUIET_MS,
    });
    mkdirSync(this.tasksDir, { recursive: true });
  }

  listProfiles(): Profile[] {
    return this.profiles.map(toProfileProto);
  }

  // ---- start ----------------------------------------------------------------------------

  async start(original: StartTaskRequest): Promise<Task> {
    checkTerminalRequest(original.tty, original.cols, original.rows);
    const id = newId('tsk');
    const request = applyProfile(original, this.profiles, join(this.tasksDir, id, HOOKS_FILE_NAME));
    validateTaskRequest(request, this.tasksDir);
    if (request.requestId) {
      const existing = await this.store.read().findOne(TaskSchema, { requestId: request.requestId });
      if (existing) return toTaskProto(existing);
    }
    const session = await this.sessions.get(request.sessionId);
    this.disk?.check('a new task');
    if (session.state === SessionState.SESSION_STATE_SETUP_FAILED) {
      throw failedPrecondition('SETUP_FAILED', `session ${session.id} is not set up: ${session.lastError}; kill or clean it up`);
    }
    // While the session sets up, tasks queue behind its setup tasks.
    if (session.state !== SessionState.SESSION_STATE_ACTIVE && session.state !== SessionState.SESSION_STATE_SETTING_UP) {
      throw failedPrecondition('SESSION_NOT_ACTIVE', `session ${session.id} is not active; restore it first`);
    }
    const worktree = request.repoId
      ? session.worktrees.find((w) => w.repoId === request.repoId || w.repoName === request.repoId)
      : await this.sessions.firstWorktree(session.id);
    if (!worktree) throw notFound('WORKTREE_NOT_FOUND', `session ${session.id} has no worktree for repo "${request.repoId}"`);
    if (worktree.state !== WorktreeState.WORKTREE_STATE_ACTIVE) {
      throw failedPrecondition('WORKTREE_NOT_ACTIVE', `the ${worktree.repoName} worktree of session ${session.id} is not active`);
    }
    // A lock held by something other than this session's own tasks refuses the task now.
    await this.locks.ensureFree(worktree.path, (owner) => owner.startsWith(`session ${session.id} `));
    const row = await this.store.transact(async (tx) => {
      await checkQueueRoom(tx, session.id, request);
      const last = await tx.em.findOne(TaskSchema, { sessionId: session.id }, { orderBy: { seq: 'desc' } });
      return createQueuedTask(tx, {
        id,
        sessionId: session.id,
        seq: (last?.seq ?? 0) + 1,
        prompt: request.prompt,
        argv: request.argv,
        env: request.env,
        repoId: worktree.repoId,
        cwd: worktree.path,
        runDir: join(this.tasksDir, id),
        requestId: request.requestId || null,
        tty: request.tty,
        cols: request.tty ? request.cols || DEFAULT_SIZE.cols : 0,
        rows: request.tty ? request.rows || DEFAULT_SIZE.rows : 0,
        profile: request.profile,
        setup: false,
      });
    });
    this.log.info({ task: id, session: session.id, argv: request.argv[0] }, 'task queued');
    this.kick(session.id);
    return toTaskProto(row);
  }

  // ---- scheduling -----------------------------------------------------------------------

  /** Starts the session's queued tasks, e.g. a new session's setup. */
  resume(sessionId: string): void {
    this.kick(sessionId);
  }

  /** Starts the session's next queued task if none is running. Never throws. */
  private kick(sessionId: string): void {
    if (this.stopped) return;
    const scheduling = this.mutex
      .run(sessionId, async () => {
        const em = this.store.read();
        if ((await em.count(TaskSchema, { sessionId, state: 'RUNNING' })) > 0) return;
        // A session setting up runs its setup tasks first, whatever was queued beside them.
        const settingUp = (await em.findOne(SessionSchema, { id: sessionId }, { fields: ['state'] }))?.state === 'SETTING_UP';
        const next = await em.findOne(
          TaskSchema,
          { sessionId, state: 'QUEUED', ...(settingUp ? { setup: true } : {}) },
          { orderBy: { seq: 'asc' } },
        );
        if (!next) return;
        // Under the session's lock: kill and cleanup cannot remove the worktree mid-launch.
        await this.admission.launchIfAdmitted(sessionId, () => this.sessions.withSessionLock(sessionId, () => this.launch(next)));
      })
      .catch((err: unknown) => this.log.error({ err, session: sessionId }, 'scheduling failed'));
    this.scheduling.add(scheduling);
    void scheduling.finally(() => this.scheduling.delete(scheduling));
  }

  private async launch(task: TaskRow): Promise<void> {
    const worktreeState = await this.sessions.worktreeState(task.sessionId, task.repoId);
    const holder = await this.locks.liveHolder(task.cwd);
    if (holder || !existsSync(task.cwd) || worktreeState !== 'ACTIVE') {
      const why = holder
        ? `${task.cwd} is locked by pid ${holder.pid} (${holder.owner})`
        : `the worktree ${task.cwd} is no longer active (the session was killed or cleaned up)`;
      await this.finish(task, { kind: 'never_started', why }, false);
      return;
    }
    const secret = prepareRunDir(task, {
      logCapBytes: this.logCapBytes,
      agentAddressFile: this.agentAddressFile,
      claudeHooks: !!task.profile && this.profiles.find((p) => p.name === task.profile)?.activityHooks === 'claude-hooks',
      ports: await this.sessions.portsOf(task.sessionId),
    });
    // RUNNING (pid 0: starting) is durable before the spawn: after a crash in between, recovery
    // finds the runner through runner.json instead of starting the task a second time.
    await this.store.transact(async (tx) => {
      const row = await tx.em.findOneOrFail(TaskSchema, { id: task.id });
      Object.assign(row, {
        state: nextTaskState(row.state, 'launch'),
        pid: 0,
        startedAt: new Date(),
        secretHash: hashSecret(secret),
        activity: STARTED.activity,
        activitySource: STARTED.source,
        activityAt: new Date(),
      });
      await tx.em.flush();
      this.emitTask(tx, row, 'task.starting');
    });
    crashPoint('task.before_spawn');
    const child = spawn(process.execPath, [RUNNER, task.runDir], { cwd: task.cwd, detached: true, stdio: 'ignore' });
    const pid = child.pid;
    const identity = pid ? identityOf(pid) : undefined;
    if (!pid || !identity) {
      // The runner may already have finished (a very fast task): its exit file says how.
      if (pid && existsSync(join(task.runDir, 'exit.json'))) {
        await this.finish(task, this.readOutcome(task)!, false);
        return;
      }
      await this.finish(task, { kind: 'never_started', why: 'could not start the runner process' }, false);
      return;
    }
    child.on('exit', () => void this.check(task.id));
    child.unref();
    crashPoint('task.after_spawn');
    await this.recordRunner(task, identity);
    this.log.info({ task: task.id, pid }, 'task running');
    // It may have ended between spawn and the row saying RUNNING.
    void this.check(task.id);
  }

  /** Records the runner's identity and takes the worktree's lock for it. */
  private async recordRunner(task: TaskRow, identity: ProcessIdentity): Promise<void> {
    await this.store.transact(async (tx) => {
      const row = await tx.em.findOneOrFail(TaskSchema, { id: task.id });
      Object.assign(row, { pid: identity.pid, pidStartTicks: identity.pidStartTicks, bootId: identity.bootId });
      this.locks.acquireIn(tx, task.cwd, identity, `session ${task.sessionId} task ${task.id}`);
      await tx.em.flush();
      this.emitTask(tx, row, 'task.started');
      await this.sessions.emitSessionIn(tx, task.sessionId);
    });
    this.running.set(task.id, { pid: identity.pid, sessionId: task.sessionId });
  }

  /** The runner of a task whose pid was never recorded, if it is still the one running it. */
  private runnerOf(task: TaskRow): ProcessIdentity | undefined {
    try {
      const { pid } = JSON.parse(readFileSync(join(task.runDir, 'runner.json'), 'utf8')) as { pid: number };
      // Same pid, and still a runner of this very run directory: never a reused pid.
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return cmdline.includes(task.runDir) ? identityOf(pid) : undefined;
    } catch {
      return undefined;
    }
  }

  // ---- observing ------------------------------------------------------------------------

  startMonitor(): void {
    this.monitor = setInterval(() => {
      for (const id of this.running.keys()) void this.check(id);
      // Terminal activity is inferred about once a second: it scans /proc.
      if (++this.monitorTicks % Math.max(1, Math.round(1000 / this.pollMs)) === 0) {
        void this.probeActivity();
        void this.resumeWaiting();
      }
    }, this.pollMs);
    this.monitor.unref();
  }

  /**
   * Sessions with queued tasks and none running get a kick about once a second: tasks queued
   * by another part (setup after a restore or a fetched branch) never wait for a kick that
   * did not come.
   */
  private async resumeWaiting(): Promise<void> {
    if (this.stopped) return;
    try {
      const rows = await this.store
        .read()
        .execute<Array<{ session_id: string }>>(
          `select distinct session_id from task where state = 'QUEUED' and session_id not in (select session_id from task where state = 'RUNNING') limit 100`,
        );
      for (const { session_id } of rows) this.kick(session_id);
    } catch (err) {
      this.log.error({ err }, 'looking for waiting tasks failed');
    }
  }

  private async probeActivity(): Promise<void> {
    const ids = [...this.running.keys()];
    if (ids.length === 0 || this.stopped) return;
    const rows = await this.store.read().find(TaskSchema, { id: { $in: ids }, tty: true, state: 'RUNNING' });
    await this.terminals.probe(rows);
  }

  /** Commits a task's new activity, with its event and its session's. */
  private async recordActivity(task: TaskRow, next: Activity): Promise<void> {
    await this.store.transact(async (tx) => {
      const row = await tx.em.findOneOrFail(TaskSchema, { id: task.id });
      if (row.state !== 'RUNNING') return;
      Object.assign(row, { activity: next.activity, activitySource: next.source, activityMessage: next.message, activityAt: new Date() });
      await tx.em.flush();
      this.emitTask(tx, row, 'task.activity');
      await this.sessions.emitSessionIn(tx, task.sessionId);
    });
    this.log.info({ task: task.id, activity: next.activity, source: next.source }, 'task activity');
  }

  /** Probes one running task; finishes it if its run has ended. Serialised per session. */
  async check(taskId: string): Promise<void> {
    if (this.stopped) return;
    const probing = this.probe(taskId);
    this.probing.add(probing);
    await probing.finally(() => this.probing.delete(probing));
  }

  private async probe(taskId: string): Promise<void> {
    const entry = this.running.get(taskId);
    const sessionId = entry?.sessionId ?? (await this.store.read().findOne(TaskSchema, { id: taskId }))?.sessionId;
    if (!sessionId || this.stopped) return;
    await this.mutex
      .run(sessionId, async () => {
        if (this.stopped) return;
        const task = await this.store.read().findOne(TaskSchema, { id: taskId });
        if (!task || task.state !== 'RUNNING') return;
        const outcome = this.readOutcome(task) ?? (probeProcess(task).alive ? undefined : this.afterRunner(task));
        // Re-read the exit file after finding the runner dead: it writes the file, then exits.
        const settled = outcome && outcome.kind !== 'exited' ? (this.readOutcome(task) ?? outcome) : outcome;
        if (settled) await this.finish(task, settled, false);
      })
      .catch((err: unknown) => this.log.error({ err, task: taskId }, 'probing task failed'));
  }

  /**
   * The runner is gone and left no exit file. Its process group is the truth: while anything
   * it started still runs, the task stays RUNNING (holding its lock, so no next task starts
   * beside it) and the leftovers are stopped, SIGTERM then SIGKILL after the grace.
   */
  private afterRunner(task: TaskRow): RunOutcome | undefined {
    if (task.pid === 0) return { kind: 'vanished' };
    // A terminal's processes are a session of their own, beside the runner's group.
    const leader = task.tty ? terminalLeader(task) : 0;
    const left = [...orphanedGroupMembers(task), ...(leader > 0 ? groupMembers(leader) : [])];
    if (left.length === 0) return this.orphanStops.delete(task.id) ? { kind: 'runner_died' } : { kind: 'vanished' };
    const stop = this.orphanStops.get(task.id);
    const now = Date.now();
    if (!stop) {
      this.log.warn({ task: task.id, runner: task.pid, left }, 'task runner died; stopping the processes it left');
      this.orphanStops.set(task.id, { since: now, killed: false });
      this.signalGroup(task, 'SIGTERM');
    } else if (!stop.killed && now - stop.since >= this.cancelGraceMs) {
      stop.killed = true;
      this.signalGroup(task, 'SIGKILL');
    }
    if (!this.running.has(task.id)) this.running.set(task.id, { pid: task.pid, sessionId: task.sessionId });
    return undefined;
  }

  private readOutcome(task: TaskRow): RunOutcome | undefined {
    try {
      const exit = JSON.parse(readFileSync(join(task.runDir, 'exit.json'), 'utf8')) as { code: number | null; signal: string | null };
      return { kind: 'exited', code: exit.code, signal: exit.signal };
    } catch {
      return undefined;
    }
  }

  private async finish(task: TaskRow, outcome: RunOutcome, afterRestart: boolean): Promise<void> {
    const { state, reason } = finalTaskState(outcome, task.cancelRequested, afterRestart);
    const tail = logTail(task);
    await this.store.transact(async (tx) => {
      const row = await tx.em.findOneOrFail(TaskSchema, { id: task.id });
      if (isFinished(row.state)) return;
      Object.assign(row, {
        state,
        reason,
        exitCode: outcome.kind === 'exited' ? outcome.code : null,
        exitSignal: outcome.kind === 'exited' ? (outcome.signal ?? '') : '',
        outputTail: tail,
        endedAt: new Date(),
      });
      await this.locks.releaseHeldIn(tx, task.cwd, task.pid, `task ${task.id} ended`);
      await tx.em.flush();
      this.emitTask(tx, row, 'task.ended');
      if (row.setup) await settleSetup(tx, task.sessionId);
      await this.sessions.emitSessionIn(tx, task.sessionId);
    });
    this.running.delete(task.id);
    this.log.info({ task: task.id, state, reason }, 'task ended');
    await dropOldTasks(this.store, task.sessionId, this.retention);
    this.kick(task.sessionId);
    // A slot came free: the sessions waiting longest get it (each kick decides again).
    if (!this.stopped) this.admission.waitingLongest((id) => this.kick(id));
    this.onTaskEnded(task.sessionId);
  }

  // ---- cancel ---------------------------------------------------------------------------

  /** QUEUED: CANCELLED at once. RUNNING: SIGTERM to the process group, SIGKILL after the grace. */
  async cancel(id: string): Promise<Task> {
    const task = await this.reads.find(id);
    return this.mutex.run(task.sessionId, async () => {
      const row = await this.reads.find(id);
      if (row.state === 'QUEUED') {
        await this.store.transact(async (tx) => {
          const fresh = await tx.em.findOneOrFail(TaskSchema, { id });
          Object.assign(fresh, {
            state: nextTaskState(fresh.state, 'cancel_queued'),
            reason: 'cancelled before it started',
            endedAt: new Date(),
            cancelRequested: true,
          });
          await tx.em.flush();
          this.emitTask(tx, fresh, 'task.ended');
          if (fresh.setup && (await settleSetup(tx, fresh.sessionId))) await this.sessions.emitSessionIn(tx, fresh.sessionId);
        });
      } else if (row.state === 'RUNNING' && !row.cancelRequested) {
        await this.store.transact(async (tx) => {
          const fresh = await tx.em.findOneOrFail(TaskSchema, { id });
          fresh.cancelRequested = true;
          await tx.em.flush();
          this.emitTask(tx, fresh, 'task.cancelling');
        });
        this.signalGroup(row, 'SIGTERM');
        setTimeout(() => {
          this.signalGroup(row, 'SIGKILL');
          void this.check(id);
        }, this.cancelGraceMs).unref();
        this.log.info({ task: id, pid: row.pid }, 'task cancel requested');
      }
      return toTaskProto(await this.reads.find(id));
    });
  }

  private signalGroup(task: TaskRow, signal: NodeJS.Signals): void {
    // Only the group of a runner we can still identify (alive, or dead with its group left):
    // never a reused pid, never pid 0 (our own group).
    if (task.pid <= 0 || !probeTaskProcesses(task).alive) return;
    const leader = task.tty ? terminalLeader(task) : 0;
    for (const group of leader > 0 ? [task.pid, leader] : [task.pid]) {
      try {
        process.kill(-group, signal);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') this.log.warn({ err, task: task.id, signal }, 'signalling the task failed');
      }
    }
  }

  // ---- recovery -------------------------------------------------------------------------

  /**
   * Start-up marking, before serving. RUNNING tasks: exit file → final state from it; runner
   * alive → re-adopted (observed by the monitor); neither → INTERRUPTED. Dead locks are
   * released, queues resume. Idempotent: a second run finds nothing to change.
   */
  async recover(): Promise<Omit<RecoverySummary, 'jobsRetried' | 'jobsFailed' | 'removalsRetried'>> {
    const summary = { tasksReadopted: 0, tasksFinalized: 0, tasksInterrupted: 0, locksReleased: 0 };
    for (const task of await this.store.read().find(TaskSchema, { state: 'RUNNING' })) {
      const outcome = this.readOutcome(task);
      const starting = task.pid === 0 && !outcome ? this.runnerOf(task) : undefined;
      if (starting) {
        await this.recordRunner(task, starting);
        summary.tasksReadopted++;
      } else if (outcome) {
        await this.finish(task, outcome, true);
        summary.tasksFinalized++;
      } else if (task.pid !== 0 && probeTaskProcesses(task).alive) {
        // The runner, or what its death left running (stopped by the monitor, then INTERRUPTED).
        this.running.set(task.id, { pid: task.pid, sessionId: task.sessionId });
        summary.tasksReadopted++;
      } else {
        await this.finish(task, this.readOutcome(task) ?? { kind: 'vanished' }, true);
        summary.tasksInterrupted++;
      }
    }
    summary.locksReleased = await this.locks.releaseDead();
    const queued = await this.store.read().find(TaskSchema, { state: 'QUEUED' }, { fields: ['sessionId'] });
    for (const sessionId of new Set(queued.map((t) => t.sessionId))) this.kick(sessionId);
    return summary;
  }

  /** Stops probing and scheduling; running tasks keep running (their runners are detached). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.monitor);
    // Probes and launches in flight finish before the database closes under them: a launch
    // cut off there would leave its task queued, or started with no pid recorded.
    while (this.probing.size > 0 || this.scheduling.size > 0) await Promise.all([...this.probing, ...this.scheduling]);
  }

  private emitTask(tx: Tx, row: TaskRow, type: TaskEventType): void {
    emitTask(tx, row, type);
  }
}
