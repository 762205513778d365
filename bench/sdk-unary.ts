import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createChannel, createClient } from 'nice-grpc';
import { AgentInfo, AgentServiceDefinition } from '../gen/grove/agent/v1/agent_service.js';
import { createAgentClient } from '../clients/sdk/index.js';
import { startAgent } from '../services/agent/agent.js';
import { createLogger } from '../services/common/logging.js';
import type { Bench } from './bench-case.js';
import { startNiceGrpcPing } from './nice-grpc-ping.js';
import { startRawPing } from './raw-ping.js';

const SDK_CASE = 'sdk GetAgentInfo';

/**
 * The cost of a unary call through the SDK: GetAgentInfo through the SDK (deadline, error
 * mapping) against a real agent, compared with a raw grpc-js ping of the same response size.
 * Two more cases say where the difference goes: a bare nice-grpc client on the same agent
 * (without it, the SDK's middleware) and a nice-grpc ping (the framework alone).
 */
export const sdkUnaryBench: Bench = {
  name: 'sdk-unary',
  async setup() {
    const dataDir = mkdtempSync(join(tmpdir(), 'grove-bench-'));
    const agent = await startAgent({ listen: '127.0.0.1:0', dataDir, log: createLogger({ level: 'silent' }) });
    const sdk = createAgentClient({ address: agent.address });
    const bareChannel = createChannel(agent.address);
    const bare = createClient(AgentServiceDefinition, bareChannel);
    const replyBytes = AgentInfo.encode(await sdk.getAgentInfo({})).finish().length;
    const ping = await startRawPing(replyBytes);
    const nicePing = await startNiceGrpcPing(replyBytes);
    return {
      baseline: { name: `grpc-js ping, ${replyBytes} B (baseline)`, call: () => ping.call() },
      cases: [
        { name: SDK_CASE, call: () => sdk.getAgentInfo({}) },
        { name: 'nice-grpc GetAgentInfo, no middleware', call: () => bare.getAgentInfo({}) },
        { name: 'nice-grpc ping', call: () => nicePing.call() },
      ],
      targeted: new Set([SDK_CASE]),
      targetRatio: 1.5,
      async teardown() {
        sdk.close();
        bareChannel.close();
        await ping.close();
        await nicePing.close();
        await agent.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
};
