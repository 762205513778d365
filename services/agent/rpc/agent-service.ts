import type { CallContext } from 'nice-grpc-common';
import {
  AgentServiceDefinition,
  type AgentServiceImplementation,
} from '../../../gen/grove/agent/v1/agent_service.js';
import { withUnimplemented } from '../../common/unimplemented.js';
import type { AgentContext } from '../agent-context.js';
import { agentCapabilityOf } from './capabilities.js';

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
      };
    },
    async addRepo(request) {
      return ctx.repos.add(request.path, request.name);
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
  };
  return withUnimplemented(AgentServiceDefinition, built, agentCapabilityOf);
}
