import { ClientError, createChannel, createClient, Metadata, Status, type Channel } from 'nice-grpc';
import { expect } from 'vitest';
import { AgentServiceDefinition, type AgentServiceClient } from '../../gen/grove/agent/v1/agent_service.js';
import { CoordinatorServiceDefinition, type CoordinatorServiceClient } from '../../gen/grove/coordinator/v1/coordinator_service.js';

/** A raw nice-grpc client of an agent, for tests that exercise the wire contract directly. */
export function agentClient(address: string, token?: string): { client: AgentServiceClient; channel: Channel } {
  const channel = createChannel(address);
  const client = createClient(AgentServiceDefinition, channel, {
    '*': token ? { metadata: Metadata({ authorization: `Bearer ${token}` }) } : {},
  });
  return { client, channel };
}

/** A raw nice-grpc client of a coordinator. */
export function coordinatorClient(address: string): { client: CoordinatorServiceClient; channel: Channel } {
  const channel = createChannel(address);
  return { client: createClient(CoordinatorServiceDefinition, channel), channel };
}

/** Asserts that `promise` fails with gRPC `code` (and details matching `detail`). */
export async function expectStatus(promise: Promise<unknown>, code: Status, detail?: RegExp): Promise<ClientError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected the call to fail').toBeInstanceOf(ClientError);
  expect(Status[(err as ClientError).code]).toBe(Status[code]);
  if (detail) expect((err as ClientError).details).toMatch(detail);
  return err as ClientError;
}
