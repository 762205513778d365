import { isAbortError } from 'abort-controller-x';
import { ClientError, Metadata } from 'nice-grpc';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Event } from '../gen/grove/agent/v1/resources.js';
import { createAgentClient, GroveClientError, RevisionCompactedError, Status, type AgentClient } from '../clients/sdk/index.js';
import { makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

/** Runs `call` and answers what it threw; fails the test if it did not throw. */
async function failureOf(call: () => Promise<unknown>): Promise<GroveClientError> {
  const outcome = await call().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(GroveClientError);
  return outcome as GroveClientError;
}

describe('SDK calls against a real agent', () => {
  const tmp = tempDir();
  let agent: ServiceProcess;
  let client: AgentClient;

  beforeAll(async () => {
    agent = await startAgentProcess({ dataDir: join(tmp.path, 'agent') });
    client = createAgentClient({ address: agent.address });
  });
  afterAll(async () => {
    client?.close();
    await agent?.stop();
    tmp.remove();
  });

  it('maps a failed call to GroveClientError with its code, reason and details', async () => {
    const missing = join(tmp.path, 'does-not-exist');
    const error = await failureOf(() => client.addRepo({ path: missing }));
    expect(error.code).toBe(Status.INVALID_ARGUMENT);
    expect(error.reason).toBe('PATH_NOT_FOUND');
    expect(error.details).toBe(`repo path ${missing} does not exist`);
    expect(error.path).toBe('/grove.agent.v1.AgentService/AddRepo');
    expect(error).not.toBeInstanceOf(RevisionCompactedError);
    expect(error).toBeInstanceOf(ClientError); // code written for nice-grpc handles it as its own

    const notFound = await failureOf(() => client.getRepo({ id: 'nope' }));
    expect(notFound.message).toBe('NOT_FOUND (REPO_NOT_FOUND): no repo "nope" on this agent');
  });

  it('gives failures that never reached a handler an empty reason', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const nowhere = createAgentClient({ address: '127.0.0.1:1' });
    try {
      const error = await failureOf(() => nowhere.getAgentInfo({}));
      expect(error.code).toBe(Status.UNAVAILABLE);
      expect(error.reason).toBe('');
    } finally {
      nowhere.close();
    }
  });

  it("passes the caller's metadata, hands over headers and trailers, and ends with an AbortError when its signal aborts", async () => {
    let trailer: Metadata | undefined;
    let header: Metadata | undefined;
    const info = await client.getAgentInfo(
      {},
      { metadata: Metadata({ 'x-request-id': 'abc' }), onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
    );
    expect(info.id).toMatch(/^agt_/);
    expect(header).toBeDefined();
    expect(trailer).toBeDefined();
    const refused = await client.getRepo({ id: 'nope' }, { onTrailer: (t) => (trailer = t) }).catch((err: unknown) => err);
    expect((refused as GroveClientError).reason).toBe('REPO_NOT_FOUND');
    expect(trailer?.get('grove-reason')).toBe('REPO_NOT_FOUND');

    const early = new AbortController();
    early.abort();
    expect(isAbortError(await client.getAgentInfo({}, { signal: early.signal }).catch((err: unknown) => err))).toBe(true);
    // Aborted while the agent cannot answer: the call ends at once, not at its deadline.
    const late = new AbortController();
    process.kill(agent.child.pid!, 'SIGSTOP');
    try {
      const pending = client.getAgentInfo({}, { signal: late.signal, deadline: 60_000 }).catch((err: unknown) => err);
      late.abort();
      expect(isAbortError(await pending)).toBe(true);
    } finally {
      process.kill(agent.child.pid!, 'SIGCONT');
    }
  });

  it('applies the default deadline to unary calls but not to streams', async () => {
    const short = createAgentClient({ address: agent.address, defaultDeadlineMs: 300 });
    try {
      const added = await short.addRepo({ path: makeRepo(join(tmp.path, 'deadline')) });
      // A stream opened before the agent hangs, and confirmed live by its first event.
      const stream = short.watchEvents({ afterRevision: added.revision - 1 })[Symbol.asyncIterator]();
      expect((await stream.next()).value?.revision).toBe(added.revision);

      process.kill(agent.child.pid!, 'SIGSTOP');
      let timedOut: GroveClientError;
      const started = Date.now();
      try {
        timedOut = await failureOf(() => short.getAgentInfo({}));
      } finally {
        process.kill(agent.child.pid!, 'SIGCONT');
      }
      expect(timedOut.code).toBe(Status.DEADLINE_EXCEEDED);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);

      // The stream outlived the unary deadline: it still delivers the next event.
      const next = await short.addRepo({ path: makeRepo(join(tmp.path, 'deadline-2')) });
      const event = (await stream.next()).value as Event | undefined;
      expect(event?.revision).toBe(next.revision);
      await stream.return?.();

      // A per-call deadline overrides the default.
      process.kill(agent.child.pid!, 'SIGSTOP');
      try {
        const perCall = await failureOf(() => client.getAgentInfo({}, { deadline: 200 }));
        expect(perCall.code).toBe(Status.DEADLINE_EXCEEDED);
      } finally {
        process.kill(agent.child.pid!, 'SIGCONT');
      }
    } finally {
      short.close();
    }
  });
});

describe('SDK bearer token', () => {
  const tmp = tempDir();
  const tokenFile = join(tmp.path, 'token');
  let agent: ServiceProcess;
  const clients: AgentClient[] = [];
  const clientWith = (token?: string) => {
    const client = createAgentClient({ address: agent.address, token });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    writeFileSync(tokenFile, 's3cret-token\n');
    agent = await startAgentProcess({ dataDir: join(tmp.path, 'agent'), extraArgs: ['--token-file', tokenFile] });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await agent?.stop();
    tmp.remove();
  });

  it('is required on unary calls when the agent has one', async () => {
    const missing = await failureOf(() => clientWith().getAgentInfo({}));
    expect(missing).toMatchObject({ code: Status.UNAUTHENTICATED, reason: 'MISSING_TOKEN' });
    const wrong = await failureOf(() => clientWith('guess').getAgentInfo({}));
    expect(wrong).toMatchObject({ code: Status.UNAUTHENTICATED, reason: 'BAD_TOKEN' });
    const info = await clientWith('s3cret-token').getAgentInfo({});
    expect(info.id).toMatch(/^agt_/);
  });

  it('is sent on streams, and a watch without it fails instead of retrying', async () => {
    const authorised = clientWith('s3cret-token');
    const { revision } = await authorised.addRepo({ path: makeRepo(join(tmp.path, 'repo')) });

    const refused = failureOf(async () => {
      for await (const event of clientWith().watch()) expect.unreachable(`event ${event.revision} without a token`);
    });
    expect(await refused).toMatchObject({ code: Status.UNAUTHENTICATED, reason: 'MISSING_TOKEN' });

    const stop = new AbortController();
    const seen: number[] = [];
    for await (const event of authorised.watch({ signal: stop.signal })) {
      seen.push(event.revision);
      if (event.revision >= revision) stop.abort();
    }
    expect(seen.at(-1)).toBe(revision);
  });
});
