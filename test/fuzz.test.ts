import { join } from 'node:path';
import fc from 'fast-check';
import { ClientError, createChannel, createClient, Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentServiceDefinition } from '../gen/grove/agent/v1/agent_service.js';
import { CoordinatorServiceDefinition } from '../gen/grove/coordinator/v1/coordinator_service.js';
import { makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

/**
 * Property-based fuzzing of every unary request message against a real agent and a real
 * coordinator: arbitrary strings (NUL, newlines, unicode, option-like `-x`, paths), sizes,
 * int64 extremes and unknown enum values in every field. Invariant: an OK or a clear client
 * error, never INTERNAL or UNKNOWN, never SQL or a stack trace in a message, the service
 * still answering, and no write when the call was refused. A fixed seed in `make test`;
 * `make fuzz` runs longer with a fresh seed (FUZZ_RUNS, FUZZ_SEED).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

const CLIENT_ERRORS = new Set([
  Status.INVALID_ARGUMENT,
  Status.NOT_FOUND,
  Status.FAILED_PRECONDITION,
  Status.OUT_OF_RANGE,
  Status.ALREADY_EXISTS,
  Status.RESOURCE_EXHAUSTED,
  Status.UNAVAILABLE, // a routed call to no agent, said at once
  Status.UNIMPLEMENTED, // a method a release has not built
]);

const nasty = fc.oneof(
  { arbitrary: fc.string(), weight: 2 },
  { arbitrary: fc.string({ unit: 'grapheme' }), weight: 1 },
  {
    arbitrary: fc.constantFrom(
      '',
      'repo',
      '-x',
      '--help',
      '\0',
      'a\0b',
      '\n',
      '..',
      '../../etc/passwd',
      '/',
      '/tmp',
      'refs/heads/x',
      '@',
      '\u202e',
      'ses_0000000000000000000000',
      'tsk_0000000000000000000000',
      'k=v,x',
      '*',
    ),
    weight: 3,
  },
  { arbitrary: fc.string().map((text) => `${text}\0${text}`), weight: 1 },
  { arbitrary: fc.string({ minLength: 300, maxLength: 5000 }), weight: 1 },
);
const int64 = fc.oneof(
  fc.integer({ min: -5, max: 1000 }),
  fc.integer(),
  fc.constantFrom(0, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 53, Number.MAX_SAFE_INTEGER, 2 ** 60, -(2 ** 60)),
);

/** An arbitrary of the message type's shape, read off its defaults (scalars, lists, maps). */
function arbitraryFor(codec: { fromPartial(p: object): object }): fc.Arbitrary<object> {
  const defaults = codec.fromPartial({}) as Record<string, unknown>;
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, value] of Object.entries(defaults)) {
    if (typeof value === 'string') fields[key] = nasty;
    else if (typeof value === 'number') fields[key] = int64;
    else if (typeof value === 'boolean') fields[key] = fc.boolean();
    else if (Array.isArray(value)) fields[key] = fc.array(nasty, { maxLength: 4 });
    else if (value instanceof Uint8Array) fields[key] = fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b));
    else if (value && typeof value === 'object') fields[key] = fc.dictionary(nasty, nasty, { maxKeys: 3 });
  }
  return fc.record(fields, { requiredKeys: [] });
}

type Codec = { fromPartial(p: object): object; encode(m: object): { finish(): Uint8Array } };
type MethodShape = { requestType: Codec; requestStream: boolean; responseStream: boolean; name: string };

/**
 * What a client can send: numbers an int32 field cannot hold are brought into its range,
 * one field at a time, so that int64 extremes still reach the int64 fields.
 */
function sendable(codec: Codec, request: Record<string, unknown>): Record<string, unknown> {
  const encodes = (r: object) => {
    try {
      codec.encode(codec.fromPartial(r)).finish();
      return true;
    } catch {
      return false;
    }
  };
  const out = { ...request };
  for (const [key, value] of Object.entries(out)) {
    if (encodes(out)) break;
    if (typeof value === 'number' && (value > 2 ** 31 - 1 || value < -(2 ** 31))) out[key] = value > 0 ? 2 ** 31 - 1 : -(2 ** 31);
  }
  return out;
}

const unary = (definition: { methods: object }) =>
  Object.entries(definition.methods as Record<string, MethodShape>).filter(([, m]) => !m.requestStream && !m.responseStream);

function checkFailure(err: unknown, method: string, request: object): void {
  if (!(err instanceof ClientError)) throw err;
  const where = `${method}(${JSON.stringify(request).slice(0, 300)})`;
  expect(CLIENT_ERRORS.has(err.code), `${where} answered ${Status[err.code]}: ${err.details}`).toBe(true);
  expect(err.details, where).not.toMatch(/SQLITE|select |insert |update |\n\s+at /i);
}

describe('fuzzing every unary RPC', () => {
  const tmp = tempDir();
  let agent: ServiceProcess;
  let coordinator: ServiceProcess;
  const channels: Channel[] = [];

  beforeAll(async () => {
    coordinator = await startCoordinatorProcess({ dataDir: join(tmp.path, 'coordinator') });
    agent = await startAgentProcess({
      dataDir: join(tmp.path, 'agent'),
      extraArgs: ['--worktree-root', join(tmp.path, 'wt'), '--coordinator', coordinator.address, '--name', 'fuzzed'],
    });
    const channel = createChannel(agent.address);
    channels.push(channel);
    // Something real to aim at: one repo, so ids and names sometimes resolve.
    await createClient(AgentServiceDefinition, channel).addRepo({ path: makeRepo(join(tmp.path, 'repo')), name: 'repo' });
  });
  afterAll(async () => {
    for (const channel of channels) channel.close();
    await agent?.stop();
    await coordinator?.stop();
    tmp.remove();
  });

  it('the agent answers every request with OK or a clear client error, writing nothing on refusal', async () => {
    const channel = createChannel(agent.address);
    channels.push(channel);
    const client = createClient(AgentServiceDefinition, channel) as unknown as Record<string, (r: object) => Promise<unknown>>;
    const info = () => client.getAgentInfo!({}) as Promise<{ revision: number }>;
    for (const [key, method] of unary(AgentServiceDefinition)) {
      await fc.assert(
        fc.asyncProperty(arbitraryFor(method.requestType), async (generated) => {
          const request = sendable(method.requestType, generated as Record<string, unknown>);
          const before = (await info()).revision;
          try {
            await client[key]!(request);
          } catch (err) {
            checkFailure(err, method.name, request);
            expect((await info()).revision, `${method.name} was refused but wrote`).toBe(before);
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    }
    expect((await info()).revision).toBeGreaterThan(0); // still serving
  });

  it('the coordinator answers every request the same way, routed ones included', async () => {
    const channel = createChannel(coordinator.address);
    channels.push(channel);
    const client = createClient(CoordinatorServiceDefinition, channel) as unknown as Record<string, (r: object) => Promise<unknown>>;
    await waitFor(
      async () => ((await client.listAgents!({})) as { agents: unknown[] }).agents.length > 0 || undefined,
      'the agent to link',
    );
    const routedMethods = unary(AgentServiceDefinition).map(([, m]) => m.name);
    for (const [key, method] of unary(CoordinatorServiceDefinition)) {
      // Route gets a real method name half the time, so its body is decoded by the agent.
      const arbitrary =
        key === 'route'
          ? fc.record(
              {
                method: fc.oneof(nasty, fc.constantFrom(...routedMethods)),
                request: fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
                agent: nasty,
                timeoutMs: fc.constantFrom(0, 1000),
              },
              { requiredKeys: [] },
            )
          : arbitraryFor(method.requestType);
      await fc.assert(
        fc.asyncProperty(arbitrary, async (generated) => {
          const request = sendable(method.requestType, generated as Record<string, unknown>);
          try {
            await client[key]!(request);
          } catch (err) {
            checkFailure(err, method.name, request);
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    }
    expect(((await client.listAgents!({})) as { agents: unknown[] }).agents).toHaveLength(1);
  });
});
