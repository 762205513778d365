import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Event } from '../gen/grove/agent/v1/resources.js';
import { createAgentClient, RevisionCompactedError, Status, type AgentClient, type ReconnectInfo } from '../clients/sdk/index.js';
import { freePort } from './helpers/free-port.js';
import { makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

// Short backoff so a resumed watch does not wait seconds between attempts in a test.
const FAST_BACKOFF = { initialMs: 20, maxMs: 300 };

interface Collected {
  events: Event[];
  /** Settles when the watch ends: resolves on a clean end, rejects with its error. */
  done: Promise<void>;
}

/** Consumes a watch in the background, recording what it delivers. */
function collect(watch: AsyncIterable<Event>): Collected {
  const events: Event[] = [];
  const done = (async () => {
    for await (const event of watch) events.push(event);
  })();
  done.catch(() => undefined); // observed by the test through `done`
  return { events, done };
}

const revisions = (events: Event[]) => events.map((e) => e.revision);
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const repoResources = (events: Event[]) => events.filter((e) => e.type.startsWith('repo.')).map((e) => e.resource);

let repoCounter = 0;
/** Adds `count` fresh repos one after another; answers their resource names and the last revision. */
async function addRepos(client: AgentClient, root: string, count: number) {
  const resources: string[] = [];
  let revision = 0;
  for (let i = 0; i < count; i++) {
    const path = makeRepo(join(root, `repo-${++repoCounter}`));
    const added = await client.addRepo({ path });
    resources.push(`repos/${added.repo!.id}`);
    revision = added.revision;
  }
  return { resources, revision };
}

const delivered = (c: Collected, revision: number) => () => (c.events.at(-1)?.revision ?? 0) >= revision || undefined;

describe('SDK watch against a real agent', () => {
  const tmp = tempDir();
  const processes: ServiceProcess[] = [];
  const clients: AgentClient[] = [];
  const aborts: AbortController[] = [];

  async function agentOn(dataDir: string, extraArgs: string[] = []) {
    const agent = await startAgentProcess({ dataDir: join(tmp.path, dataDir), extraArgs });
    processes.push(agent);
    return agent;
  }
  function clientFor(address: string) {
    const client = createAgentClient({ address });
    clients.push(client);
    return client;
  }
  function signal() {
    const controller = new AbortController();
    aborts.push(controller);
    return controller;
  }

  afterEach(async () => {
    for (const controller of aborts.splice(0)) controller.abort();
    for (const client of clients.splice(0)) client.close();
    await Promise.all(processes.splice(0).map((p) => p.stop()));
  });
  afterAll(() => tmp.remove());

  it('delivers the backlog then live events, each revision once and in order', async () => {
    const agent = await agentOn('backlog');
    const client = clientFor(agent.address);
    const before = await addRepos(client, tmp.path, 3);

    const stop = signal();
    const watch = collect(client.watch({ signal: stop.signal }));
    await waitFor(delivered(watch, before.revision), 'the backlog');
    // Live events, written while the watch is already streaming.
    const live = await addRepos(client, tmp.path, 3);
    await waitFor(delivered(watch, live.revision), 'the live events');

    const { revision } = await client.getAgentInfo({});
    expect(revisions(watch.events)).toEqual(upTo(revision));
    expect(repoResources(watch.events)).toEqual([...before.resources, ...live.resources]);
    stop.abort();
    await expect(watch.done).resolves.toBeUndefined();
  });

  it('starts after the given revision', async () => {
    const agent = await agentOn('after');
    const client = clientFor(agent.address);
    const { revision } = await addRepos(client, tmp.path, 4);

    const stop = signal();
    const watch = collect(client.watch({ afterRevision: 2, signal: stop.signal }));
    await waitFor(delivered(watch, revision), 'events after revision 2');
    expect(revisions(watch.events)).toEqual(upTo(revision).slice(2));
    stop.abort();
    await watch.done;
  });

  it('resumes across agent restarts on the same address without gaps or repeats', async () => {
    const port = await freePort();
    const listen = ['--listen', `127.0.0.1:${port}`];
    const first = await agentOn('restart', listen);
    expect(first.address).toBe(`127.0.0.1:${port}`);
    const client = clientFor(first.address);
    const before = await addRepos(client, tmp.path, 2);

    const reconnects: ReconnectInfo[] = [];
    const stop = signal();
    const watch = collect(client.watch({ signal: stop.signal, backoff: FAST_BACKOFF, onReconnect: (info) => reconnects.push(info) }));
    await waitFor(delivered(watch, before.revision), 'events before the outage');

    await first.stop();
    await waitFor(() => reconnects.length >= 1 || undefined, 'the watch to notice the outage');

    // During the outage the same database is changed by an agent on another port, which the
    // watch cannot see: these events can only reach it as backlog after it resumes.
    const elsewhere = await agentOn('restart');
    const during = await addRepos(clientFor(elsewhere.address), tmp.path, 2);
    await elsewhere.stop();
    const retriesBeforeRestart = reconnects.length;

    const second = await agentOn('restart', listen);
    await waitFor(delivered(watch, during.revision), 'the events written during the outage', 20_000);
    const after = await addRepos(client, tmp.path, 2);
    await waitFor(delivered(watch, after.revision), 'events after the restart');

    const { revision } = await client.getAgentInfo({});
    expect(revisions(watch.events)).toEqual(upTo(revision));
    expect(repoResources(watch.events)).toEqual([...before.resources, ...during.resources, ...after.resources]);
    expect(retriesBeforeRestart).toBeGreaterThanOrEqual(1);
    // Every retry resumed after the last delivered revision, never from the start.
    expect(reconnects.every((r) => r.afterRevision === before.revision)).toBe(true);

    // Aborting while the agent is down ends the watch cleanly, mid-backoff.
    await second.stop();
    const retriesNow = reconnects.length;
    await waitFor(() => reconnects.length > retriesNow || undefined, 'a retry against the stopped agent');
    stop.abort();
    await expect(watch.done).resolves.toBeUndefined();
  });

  it('resumes after the agent crashes mid-stream', async () => {
    const port = await freePort();
    const listen = ['--listen', `127.0.0.1:${port}`];
    const crashing = await agentOn('crash', listen);
    const client = clientFor(crashing.address);
    const before = await addRepos(client, tmp.path, 2);

    const reconnects: ReconnectInfo[] = [];
    const stop = signal();
    const watch = collect(client.watch({ signal: stop.signal, backoff: FAST_BACKOFF, onReconnect: (info) => reconnects.push(info) }));
    await waitFor(delivered(watch, before.revision), 'events before the crash');
    await crashing.kill();
    await waitFor(() => reconnects.length >= 1 || undefined, 'the watch to notice the crash');
    // A crash is a dropped connection, not an orderly end of the stream.
    expect(reconnects[0]?.error?.code).toBe(Status.UNAVAILABLE);

    await agentOn('crash', listen);
    // grpc-js fails unary calls fast until its backing-off channel reconnects.
    await waitFor(() => client.getAgentInfo({}), 'the client to reconnect', 20_000);
    const after = await addRepos(client, tmp.path, 2);
    await waitFor(delivered(watch, after.revision), 'events after the crash');
    const { revision } = await client.getAgentInfo({});
    expect(revisions(watch.events)).toEqual(upTo(revision));
    expect(repoResources(watch.events)).toEqual([...before.resources, ...after.resources]);
  });

  it('throws RevisionCompactedError for a revision the agent no longer retains', async () => {
    const agent = await agentOn('compacted', ['--event-retention', '3']);
    const client = clientFor(agent.address);
    const { revision } = await addRepos(client, tmp.path, 5);

    const compacted = collect(client.watch({ afterRevision: 0 }));
    const error = await compacted.done.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(RevisionCompactedError);
    expect(error).toMatchObject({ code: Status.OUT_OF_RANGE, reason: 'REVISION_COMPACTED' });
    expect(compacted.events).toEqual([]);

    const ahead = collect(client.watch({ afterRevision: revision + 10 }));
    await expect(ahead.done).rejects.toMatchObject({ code: Status.OUT_OF_RANGE, reason: 'REVISION_AHEAD' });

    // The oldest retained revisions can still be resumed from.
    const stop = signal();
    const retained = collect(client.watch({ afterRevision: revision - 3, signal: stop.signal }));
    await waitFor(delivered(retained, revision), 'the retained events');
    expect(revisions(retained.events)).toEqual([revision - 2, revision - 1, revision]);
  });
});
