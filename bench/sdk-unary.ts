import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, Server, ServerCredentials, type sendUnaryData, type ServiceDefinition } from '@grpc/grpc-js';
import { createChannel, createClient } from 'nice-grpc';
import { AgentInfo, AgentServiceDefinition, GetAgentInfoRequest } from '../gen/grove/agent/v1/agent_service.js';
import { createAgentClient } from '../clients/sdk/index.js';
import { startAgent } from '../services/agent/agent.js';
import { createLogger } from '../services/common/logging.js';
import type { Bench } from './bench-case.js';
import { startNiceGrpcPing } from './nice-grpc-ping.js';
import { startRawPing } from './raw-ping.js';

const SDK_CASE = 'sdk GetAgentInfo';
const PATH = '/grove.agent.v1.AgentService/GetAgentInfo';
const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * A bare grpc-js server that answers GetAgentInfo with one fixed, real AgentInfo (taken from
 * a live agent): no handler work, so every call to it measures only the client side and the
 * wire. The SDK and the baseline both call it and both decode the reply.
 */
async function startFixedAgentInfo(reply: Uint8Array): Promise<{ address: string; close(): Promise<void> }> {
  const service: ServiceDefinition = {
    getAgentInfo: {
      path: PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: GetAgentInfoRequest) => asBuffer(GetAgentInfoRequest.encode(value).finish()),
      requestDeserialize: (bytes: Buffer) => GetAgentInfoRequest.decode(bytes),
      responseSerialize: (value: Buffer) => value,
      responseDeserialize: (bytes: Buffer) => bytes,
    },
  };
  const bytes = asBuffer(reply);
  const server = new Server();
  server.addService(service, { getAgentInfo: (_call: unknown, callback: sendUnaryData<Buffer>) => callback(null, bytes) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return {
    address: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

/**
 * The SDK's own cost of a unary call (deadline, token, typed errors): GetAgentInfo through
 * the SDK against a bare grpc-js client making the same call, with the same decode, to the
 * same server (a fixed reply, so the server does the same nothing for both). Further cases
 * say where time goes: a bare nice-grpc client on the same server, the SDK against a real
 * agent (its handler reads the database), and the framework-only pings.
 */
export const sdkUnaryBench: Bench = {
  name: 'sdk-unary',
  async setup() {
    const dataDir = mkdtempSync(join(tmpdir(), 'grove-bench-'));
    const agent = await startAgent({ listen: '127.0.0.1:0', dataDir, log: createLogger({ level: 'silent' }) });
    const real = createAgentClient({ address: agent.address });
    const reply = AgentInfo.encode(await real.getAgentInfo({})).finish();
    const fixed = await startFixedAgentInfo(reply);
    const sdk = createAgentClient({ address: fixed.address });
    const rawClient = new Client(fixed.address, credentials.createInsecure());
    const rawRequest = asBuffer(GetAgentInfoRequest.encode({}).finish());
    const raw = () =>
      new Promise<AgentInfo>((resolve, reject) =>
        rawClient.makeUnaryRequest(
          PATH,
          (value: Buffer) => value,
          (bytes: Buffer) => AgentInfo.decode(bytes),
          rawRequest,
          (err, value) => (err || !value ? reject(err ?? new Error('empty reply')) : resolve(value)),
        ),
      );
    const niceChannel = createChannel(fixed.address);
    const nice = createClient(AgentServiceDefinition, niceChannel);
    const ping = await startRawPing(reply.length);
    const nicePing = await startNiceGrpcPing(reply.length);
    return {
      baseline: { name: `grpc-js GetAgentInfo, ${reply.length} B, same server (baseline)`, call: raw },
      cases: [
        { name: SDK_CASE, call: () => sdk.getAgentInfo({}) },
        { name: 'nice-grpc GetAgentInfo, no middleware, same server', call: () => nice.getAgentInfo({}) },
        { name: 'sdk GetAgentInfo against a real agent (handler reads its database)', call: () => real.getAgentInfo({}) },
        { name: 'grpc-js ping, no protobuf', call: () => ping.call() },
        { name: 'nice-grpc ping, no protobuf', call: () => nicePing.call() },
      ],
      targeted: new Set([SDK_CASE]),
      targetRatio: 1.3,
      async teardown() {
        sdk.close();
        real.close();
        rawClient.close();
        niceChannel.close();
        await ping.close();
        await nicePing.close();
        await fixed.close();
        await agent.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
};
