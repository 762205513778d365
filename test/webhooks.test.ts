import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { grove } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient } from './helpers/grpc.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { createSessionRequest, startTaskRequest } from './helpers/requests.js';
import { querySql } from './helpers/sqlite.js';
import { tempDir } from './helpers/temp.js';

interface Received {
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  body: { id: string; type: string; agent: { id: string; name: string }; task?: { id: string; state: string } };
}

/** A real HTTP receiver on a fixed loopback port: it can go down and come back at the same URL. */
class Receiver {
  readonly received: Received[] = [];
  private server: Server | undefined;
  constructor(readonly port: number) {}
  get url() {
    return `http://127.0.0.1:${this.port}/hook`;
  }
  up(): Promise<void> {
    const server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
      req.on('end', () => {
        this.received.push({ headers: req.headers, raw, body: JSON.parse(raw) as Received['body'] });
        res.writeHead(204).end();
      });
    });
    this.server = server;
    return new Promise((resolve) => server.listen(this.port, '127.0.0.1', () => resolve()));
  }
  down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

describe('webhooks: a durable outbox of signed notifications', () => {
  const tmp = tempDir();
  let tests = 0;
  const running: ServiceProcess[] = [];
  const receivers: Receiver[] = [];
  afterEach(async () => {
    for (const service of running.splice(0)) await service.stop();
    for (const receiver of receivers.splice(0)) await receiver.down();
  });

  async function setUp(extra: string[]) {
    const dir = join(tmp.path, `t${++tests}`);
    const receiver = new Receiver(await freePort());
    receivers.push(receiver);
    const secretFile = join(dir, 'webhook-secret');
    const coordinatorArgs = ['--webhook', receiver.url, '--webhook-secret-file', secretFile, ...extra];
    const coordinatorDir = join(dir, 'coordinator');
    const listen = `127.0.0.1:${await freePort()}`;
    const startCoordinator = async () => {
      const service = await startCoordinatorProcess({ dataDir: coordinatorDir, listen, extraArgs: coordinatorArgs });
      running.push(service);
      return service;
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(secretFile, 'hook-secret\n');
    const coordinator = await startCoordinator();
    const agent = await startAgentProcess({
      dataDir: join(dir, 'agent'),
      extraArgs: ['--coordinator', listen, '--name', 'builder', '--heartbeat', '200ms'],
    });
    running.push(agent);
    const { client, channel } = agentClient(agent.address);
    const repo = (await client.addRepo({ path: makeRepo(join(dir, 'repo')), name: 'app' })).repo!;
    const session = (await client.createSession(createSessionRequest({ repoIds: [repo.id], branch: 'hooked' }))).session!;
    const run = async (argv: string[]) => (await client.startTask(startTaskRequest({ sessionId: session.id, argv }))).task!;
    return { receiver, coordinator, startCoordinator, run, channel, outbox: join(coordinatorDir, 'coordinator.sqlite') };
  }

  it('a failed task reaches the receiver as a signed JSON POST', async () => {
    const { receiver, run, channel } = await setUp([]);
    await receiver.up();
    const task = await run(['sh', '-c', 'exit 4']);
    const hook = await waitFor(() => receiver.received.find((r) => r.body.type === 'task.failed'), 'task.failed delivered');
    expect(hook.body.task).toMatchObject({ id: task.id, state: 'TASK_STATE_FAILED' });
    expect(hook.body.agent.name).toBe('builder');
    expect(hook.headers['content-type']).toBe('application/json');
    expect(hook.headers['x-grove-event']).toBe('task.failed');
    expect(hook.headers['x-grove-delivery']).toBe(hook.body.id);
    // The signature covers the exact bytes sent, under the secret's trimmed content.
    const expected = `sha256=${createHmac('sha256', 'hook-secret').update(hook.raw).digest('hex')}`;
    expect(hook.headers['x-grove-signature-256']).toBe(expected);
    channel.close();
  });

  it('with the receiver down and the coordinator restarted meanwhile, every notification arrives, each id once', async () => {
    const { receiver, coordinator, startCoordinator, run, channel, outbox } = await setUp(['--webhook-max-backoff', '500ms']);
    // The receiver is down: three tasks end (two fail), and their notifications wait in the outbox.
    for (const argv of [['true'], ['false'], ['sh', '-c', 'exit 9']]) await run(argv);
    const pending = await waitFor(async () => {
      const rows = await querySql<{ notification_id: string; attempts: number; delivered_at: number | null }>(
        outbox,
        'select notification_id, attempts, delivered_at from webhook_outbox order by id',
      );
      // In order per receiver: the first is being retried, the later ones wait behind it.
      return rows.length === 3 && rows[0]!.attempts >= 2 && rows.every((r) => r.delivered_at === null) ? rows : undefined;
    }, 'three notifications recorded, the first retried');
    await coordinator.stop();
    await receiver.up();
    await startCoordinator();
    await waitFor(async () => {
      const rows = await querySql<{ n: number }>(outbox, 'select count(*) as n from webhook_outbox where delivered_at is not null');
      return rows[0]!.n === 3 ? true : undefined;
    }, 'every notification delivered');
    const ids = receiver.received.map((r) => r.body.id);
    expect(ids.sort()).toEqual(pending.map((r) => r.notification_id).sort());
    expect(receiver.received.map((r) => r.body.type).sort()).toEqual(['task.ended', 'task.failed', 'task.failed']);
    channel.close();
  });

  it('refuses webhook flags it cannot honour, with a clear line and exit 2', async () => {
    const dir = join(tmp.path, 'flags');
    const serve = (...flags: string[]) => grove(['coordinator', 'serve', '--listen', '127.0.0.1:0', '--data-dir', dir, ...flags]);
    const notHttp = await serve('--webhook', 'ftp://example.invalid/hook');
    expect(notHttp.code).toBe(2);
    expect(notHttp.stderr).toMatch(/--webhook "ftp:\/\/example.invalid\/hook" must be an http:\/\/ or https:\/\/ URL/);
    const unknown = await serve('--webhook', 'http://127.0.0.1:9/x', '--webhook-events', 'task.failed,task.exploded');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no event "task.exploded"/);
    const alone = await serve('--webhook-secret-file', join(dir, 'nope'));
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/need --webhook URL/);
  });
});
