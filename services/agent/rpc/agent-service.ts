import { freeBytes } from '../procs/disk-space.js';
import { TaskReads } from '../tasks/task-reads.js';
import type { CallContext } from 'nice-grpc-common';
import { AgentServiceDefinition, LinkState, type AgentServiceImplementation } from '../../../gen/grove/agent/v1/agent_service.js';
import { invalidArgument } from '../../common/errors.js';
import { withUnimplemented } from '../../common/unimplemented.js';
import { summarizeLinks, type AgentContext, type LinkStatus } from '../agent-context.js';
import { agentCapabilityOf } from './capabilities.js';

const LINK_STATES: Record<LinkStatus['state'], LinkState> = {
  disabled: LinkState.LINK_STATE_DISABLED,
  connecting: LinkState.LINK_STATE_CONNECTING,
  connected: LinkState.LINK_STATE_CONNECTED,
  failing: LinkState.LINK_STATE_FAILING,
};

const linkInfo = (link: LinkStatus) => ({ coordinator: link.coordinator, state: LINK_STATES[link.state], lastError: link.lastError });

/**
 * Thin handlers: validate, call the owning service, map to proto. Streams end when the
 * client goes away or the agent shuts down.
 */
export function createAgentServiceImpl(ctx: AgentContext): AgentServiceImplementation {
  const built: Partial<AgentServiceImplementation> = {
    async getAgentInfo() {
      const { oldest, newest } = await ctx.store.events.bounds();
      return {
        id: ctx.identity.id,
        name: ctx.identity.name,
        labels: ctx.identity.labels,
        version: ctx.identity.version,
        revision: newest,
        oldestRevision: oldest,
        worktreeRoot: ctx.worktreeRoot,
        link: linkInfo(summarizeLinks(ctx.links)),
        links: ctx.links.map(linkInfo),
        maxRunningTasks: ctx.maxRunningTasks,
        ...(await TaskReads.load(ctx.store.read())),
        freeDiskBytes: freeBytes(ctx.worktreeRoot),
      };
    },
    async addRepo(request) {
      const { keepIgnored, setup, teardown, copy } = request;
      return ctx.repos.add(request.path, request.name, { keepIgnored, setup, teardown, copy });
    },
    async updateRepo(request) {
      const settings = request.settings ?? { keepIgnored: [], setup: '', teardown: '', copy: [] };
      return ctx.repos.update(request.id, settings, request.updateMask);
    },
    async getRepo(request) {
      return ctx.repos.get(request.id);
    },
    async listRepos(request) {
      return ctx.repos.list(request.pageSize, request.pageToken);
    },
    async removeRepo(request) {
      return { revision: await ctx.repos.remove(request.id) };
    },
    async *watchEvents(request, context: CallContext) {
      const signal = AbortSignal.any([context.signal, ctx.shutdown]);
      yield* ctx.store.events.watch(request.afterRevision, signal);
    },
    async getSnapshot() {
      return ctx.snapshot();
    },
    async createSession(request) {
      const session = await ctx.sessions.create(request);
      // A session with setup commands has them queued as its first tasks.
      ctx.tasks.resume(session.id);
      return { session };
    },
    async getSession(request) {
      return ctx.sessions.inspect(request.id);
    },
    async listSessions(request) {
      return ctx.sessions.list(request);
    },
    async killSession(request) {
      return ctx.sessions.kill(request.id);
    },
    async cleanupSession(request) {
      return { session: await ctx.sessions.cleanup(request.id) };
    },
    async restoreSessions(request) {
      const restored = await ctx.sessions.restore(request.ids, request.all);
      // A restored worktree is set up again: its setup tasks start now.
      for (const session of restored.sessions) ctx.tasks.resume(session.id);
      return restored;
    },
    async diffSession(request) {
      return ctx.changes.diff(request);
    },
    async commitSession(request) {
      return ctx.changes.commit(request);
    },
    async landSession(request) {
      return { job: await ctx.jobs.land(request) };
    },
    async listPreserved(request) {
      return { preserved: await ctx.sessions.listPreserved(request.sessionId) };
    },
    async applyPreserved(request) {
      return { session: await ctx.sessions.applyPreserved(request.sessionId, request.repoId) };
    },
    async dropPreserved(request) {
      return { session: await ctx.sessions.dropPreserved(request.sessionId, request.repoId) };
    },
    async listOrphans() {
      return { orphans: await ctx.sessions.listOrphans() };
    },
    async pruneOrphans() {
      return { pruned: await ctx.sessions.pruneOrphans() };
    },
    async startTask(request) {
      return { task: await ctx.tasks.start(request) };
    },
    async getTask(request) {
      return ctx.tasks.reads.get(request.id);
    },
    async listTasks(request) {
      return ctx.tasks.reads.list(request);
    },
    async cancelTask(request) {
      return { task: await ctx.tasks.cancel(request.id) };
    },
    async readTaskLog(request) {
      return ctx.tasks.reads.readLog(request.id, request.offset, request.limit);
    },
    async *followTaskLog(request, context: CallContext) {
      yield* ctx.tasks.reads.followLog(request.id, request.offset, AbortSignal.any([context.signal, ctx.shutdown]));
    },
    async *attachTask(requests, context: CallContext) {
      const incoming = requests[Symbol.asyncIterator]();
      const first = await incoming.next();
      if (first.done || first.value.message?.$case !== 'open') {
        throw invalidArgument('OPEN_REQUIRED', 'the first message of an attach must be open, naming the task');
      }
      yield* ctx.tasks.terminals.attach(first.value.message.value, incoming, AbortSignal.any([context.signal, ctx.shutdown]));
    },
    async sendTaskInput(request) {
      return { bytesWritten: await ctx.tasks.terminals.send(request.taskId, Buffer.from(request.data)) };
    },
    async signalTask(request) {
      return { task: await ctx.tasks.terminals.signal(request) };
    },
    async listProfiles() {
      return { profiles: ctx.tasks.listProfiles() };
    },
    async submitJob(request) {
      return { job: await ctx.jobs.submit(request) };
    },
    async getJob(request) {
      return ctx.jobs.get(request.id);
    },
    async listJobs(request) {
      return ctx.jobs.list(request);
    },
    async cancelJob(request) {
      return { job: await ctx.jobs.cancel(request.id) };
    },
    async startSync(request) {
      return { sync: await ctx.syncs.start(request.sessionId, request.repoId) };
    },
    async stopSync(request) {
      return ctx.syncs.stop(request.repoId, request.restoreStash);
    },
    async flushSync(request) {
      return { sync: await ctx.syncs.flush(request.repoId) };
    },
    async listSyncs() {
      return { syncs: await ctx.syncs.list() };
    },
    async listStashes(request) {
      return { stashes: await ctx.syncs.listStashes(request.repoId) };
    },
    async applyStash(request) {
      return { stash: await ctx.syncs.applyStash(request.id) };
    },
    async dropStash(request) {
      return { stash: await ctx.syncs.dropStash(request.id) };
    },
    async listLocks() {
      return { locks: await ctx.locks.list() };
    },
    async releaseLock(request) {
      return { released: await ctx.locks.release(request.directory, request.force) };
    },
  };
  return withUnimplemented(AgentServiceDefinition, built, agentCapabilityOf);
}
