import type { CallContext } from 'nice-grpc-common';
import {
  AttachTaskRequest,
  AttachTaskResponse,
  FollowTaskLogRequest,
  FollowTaskLogResponse,
} from '../../../gen/grove/agent/v1/agent_service.js';
import { invalidArgument } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import type { TunnelBroker, TunnelEnds } from '../link/tunnel-broker.js';
import { ROUTED_AGENT_TRAILER } from '../../../wire/trailers.js';
import { agentChooser, type RouteDeps } from './route-handler.js';

export interface RoutedStreamDeps extends Pick<RouteDeps, 'registry' | 'hub' | 'projection' | 'policy'> {
  tunnels: TunnelBroker;
  log: Logger;
}

/**
 * The AgentService streams the coordinator serves for agents that dialled out: routed by task
 * id to the owning agent, each carried on its own tunnel from that agent. A client that goes
 * away closes its tunnel; a link that drops ends the stream with UNAVAILABLE.
 */
export function createRoutedStreams(deps: RoutedStreamDeps) {
  const choose = agentChooser(deps);

  async function tunnelFor(taskId: string, method: string, context: CallContext): Promise<TunnelEnds> {
    if (!taskId) throw invalidArgument('TASK_REQUIRED', 'a task id is required');
    const agent = choose({ owned: [{ kind: 'task', id: taskId }], repos: [] }, { agent: '', labels: {}, repos: [] });
    context.trailer.set(ROUTED_AGENT_TRAILER, agent.id);
    return deps.tunnels.open(agent.id, method, context.signal);
  }

  return {
    async *attachTask(requests: AsyncIterable<AttachTaskRequest>, context: CallContext): AsyncGenerator<AttachTaskResponse> {
      const incoming = requests[Symbol.asyncIterator]();
      const first = await incoming.next();
      if (first.done || first.value.message?.$case !== 'open') {
        throw invalidArgument('OPEN_REQUIRED', 'the first message of an attach must be open, naming the task');
      }
      const tunnel = await tunnelFor(first.value.message.value.taskId, 'AttachTask', context);
      try {
        tunnel.send(AttachTaskRequest.encode(first.value).finish());
        void (async () => {
          for (;;) {
            const next = await incoming.next();
            if (next.done) return;
            tunnel.send(AttachTaskRequest.encode(next.value).finish());
          }
        })().catch(() => tunnel.close());
        for await (const bytes of tunnel.responses) yield AttachTaskResponse.decode(bytes);
      } finally {
        tunnel.close();
      }
    },

    async *followTaskLog(request: FollowTaskLogRequest, context: CallContext): AsyncGenerator<FollowTaskLogResponse> {
      const tunnel = await tunnelFor(request.id, 'FollowTaskLog', context);
      try {
        tunnel.send(FollowTaskLogRequest.encode(request).finish());
        for await (const bytes of tunnel.responses) yield FollowTaskLogResponse.decode(bytes);
      } finally {
        tunnel.close();
      }
    },
  };
}
