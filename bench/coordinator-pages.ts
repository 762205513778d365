import { GroupService } from '../services/coordinator/groups/group-service.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Metadata } from 'nice-grpc-common';
import type { Repo } from '../gen/grove/agent/v1/resources.js';
import type { ListSessionsRequest } from '../gen/grove/coordinator/v1/coordinator_service.js';
import { newId } from '../services/common/ids.js';
import { createLogger } from '../services/common/logging.js';
import { AgentRegistry } from '../services/coordinator/agents/agent-registry.js';
import { DEFAULT_STATUS_POLICY } from '../services/coordinator/agents/agent-status.js';
import { LinkHub } from '../services/coordinator/link/link-hub.js';
import { TunnelBroker } from '../services/coordinator/link/tunnel-broker.js';
import { ChangeLog } from '../services/coordinator/projection/change-log.js';
import { Projection } from '../services/coordinator/projection/projection.js';
import { createCoordinatorServiceImpl } from '../services/coordinator/rpc/coordinator-service.js';
import { CommandAudit } from '../services/coordinator/store/command-audit.js';
import { initOrm } from '../services/coordinator/store/orm.js';
import { sessionOf } from './coordinator-fleet.js';

/**
 * The ListSessions handler alone, in-process, without gRPC: what serving a page costs the
 * coordinator, at two fleet sizes. If pages cost O(page), the two sizes cost the same.
 */
export async function measureListHandler(agents: number, sessionsPerAgent: number, samples: number): Promise<Map<string, number[]>> {
  const dir = mkdtempSync(join(tmpdir(), 'grove-bench-pages-'));
  const log = createLogger({ level: 'silent' });
  const orm = await initOrm(dir, log);
  const registry = await AgentRegistry.load(orm, log);
  try {
    const projection = new Projection(new ChangeLog(0, 1000));
    const names: string[] = [];
    for (let a = 0; a < agents; a++) {
      const id = newId('agt');
      const name = `sim-${a}`;
      names.push(name);
      await registry.connected(
        {
          agentId: id,
          name,
          labels: {},
          version: 'bench',
          revision: 1,
          oldestRevision: 1,
          instanceId: id,
          maxRunningTasks: 0,
          freeDiskBytes: 0,
          agentNonce: Buffer.alloc(0),
        },
        new Date(),
      );
      const repo: Repo = {
        id: newId('rep'),
        name: 'app',
        path: `/src/${a}`,
        defaultBranch: 'main',
        createTime: undefined,
        keepIgnored: [],
        setup: '',
        teardown: '',
        copy: [],
      };
      const sessions = Array.from({ length: sessionsPerAgent }, (_, i) => sessionOf(a, i, repo, 10));
      projection.replace(id, { revision: 1, repos: [repo], sessions, tasks: [], jobs: [], syncs: [], locks: [] });
    }
    const hub = new LinkHub(new CommandAudit(orm, log), log);
    const service = createCoordinatorServiceImpl({
      registry,
      tunnels: new TunnelBroker(hub, log),
      hub,
      projection,
      policy: DEFAULT_STATUS_POLICY,
      groups: new GroupService({ orm, hub, registry, projection, candidates: () => [], isConnected: () => false, log }),
      shutdown: new AbortController().signal,
      log,
    });
    const context = {
      metadata: Metadata(),
      peer: 'bench',
      header: Metadata(),
      trailer: Metadata(),
      sendHeader() {},
      signal: new AbortController().signal,
    };
    const defaults: ListSessionsRequest = {
      pageSize: 100,
      pageToken: '',
      agent: '',
      state: 0,
      repo: '',
      labelSelector: '',
      orderBy: '',
      activity: 0,
    };
    const list = async (request: Partial<ListSessionsRequest>) => {
      const page = await service.listSessions({ ...defaults, ...request } as ListSessionsRequest, context);
      const held = page.sessions?.length ?? 0;
      if (held !== 100) throw new Error(`a page held ${held} sessions, not 100`);
      return page;
    };
    let deep = '';
    for (let i = 0; i < (agents * sessionsPerAgent) / 200; i++) deep = (await list({ pageToken: deep })).nextPageToken ?? '';
    const requests: Record<string, Partial<ListSessionsRequest>> = {
      first: {},
      middle: { pageToken: deep },
      'by agent': { agent: names[Math.floor(agents / 2)]! },
      'by label': { labelSelector: 'team=t3' },
    };
    const times = new Map<string, number[]>();
    for (let i = 0; i < samples; i++) {
      for (const [kind, request] of Object.entries(requests)) {
        const start = performance.now();
        await list(request);
        const into = times.get(kind) ?? [];
        into.push(performance.now() - start);
        times.set(kind, into);
      }
    }
    return times;
  } finally {
    await registry.close();
    await orm.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
