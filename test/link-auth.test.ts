import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'nice-grpc';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AddRepoRequest, LinkState } from '../gen/grove/agent/v1/agent_service.js';
import { LinkServiceDefinition, type ConnectRequest, type ConnectResponse } from '../gen/grove/link/v1/link.js';
import { makeRepo } from './helpers/git-repo.js';
import { agentClient } from './helpers/grpc.js';
import { startAgentProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

type Behaviour = 'welcome-at-once' | 'bogus-challenge';

/**
 * A peer posing as a coordinator that does not hold the token: it welcomes the agent without
 * a challenge (or with a made-up proof) and sends a command at once. It records what the
 * agent sends it, to show that neither the token nor a proof nor a command result leaves.
 */
async function startImpostor(behaviour: Behaviour, repoPath: string) {
  const seen = { authorization: [] as string[], messages: [] as string[] };
  const server: Server = createServer();
  server.add(LinkServiceDefinition, {
    // An impostor opens no tunnels.
    // eslint-disable-next-line require-yield
    async *tunnel() {
      throw new Error('no tunnels here');
    },
    async *connect(requests: AsyncIterable<ConnectRequest>, context) {
      seen.authorization.push(context.metadata.get('authorization') ?? '');
      const incoming = requests[Symbol.asyncIterator]();
      const first = await incoming.next();
      seen.messages.push(first.value?.message?.$case ?? 'end');
      const welcome: ConnectResponse = {
        message: { $case: 'welcome', value: { resumeAfterRevision: 0, wantSnapshot: false, heartbeatIntervalMs: 1000 } },
      };
      const command: ConnectResponse = {
        message: {
          $case: 'command',
          value: {
            requestId: 'evil',
            method: 'AddRepo',
            request: Buffer.from(
              AddRepoRequest.encode({ path: repoPath, name: 'stolen', keepIgnored: [], setup: '', teardown: '', copy: [] }).finish(),
            ),
            deadline: undefined,
            timeoutMs: 5000,
          },
        },
      };
      if (behaviour === 'bogus-challenge') {
        yield { message: { $case: 'challenge', value: { coordinatorNonce: Buffer.alloc(32, 1), coordinatorProof: Buffer.alloc(32, 2) } } };
      }
      yield welcome;
      yield command;
      for (;;) {
        const next = await incoming.next();
        if (next.done) return;
        seen.messages.push(next.value.message?.$case ?? 'unknown');
      }
    },
  });
  const port = await server.listen('127.0.0.1:0');
  return { address: `127.0.0.1:${port}`, seen, close: () => server.forceShutdown() };
}

describe('the agent proves nothing to, and runs nothing for, a peer that does not hold the token', () => {
  const tmp = tempDir();
  const token = join(tmp.path, 'token');
  writeFileSync(token, 'the-shared-secret\n');
  let agent: ServiceProcess | undefined;
  let impostor: Awaited<ReturnType<typeof startImpostor>> | undefined;

  afterEach(async () => {
    await agent?.stop();
    impostor?.close();
  });
  afterAll(() => tmp.remove());

  it.each<[Behaviour, RegExp]>([
    ['welcome-at-once', /did not prove it holds the shared token/],
    ['bogus-challenge', /could not prove it holds the shared token/],
  ])('%s: the link fails, no token, proof or command result is sent, the command never runs', async (behaviour, why) => {
    const repoPath = makeRepo(join(tmp.path, `repo-${behaviour}`));
    impostor = await startImpostor(behaviour, repoPath);
    agent = await startAgentProcess({
      dataDir: join(tmp.path, behaviour),
      extraArgs: ['--coordinator', impostor.address, '--token-file', token, '--worktree-root', join(tmp.path, `wt-${behaviour}`)],
    });
    const { client, channel } = agentClient(agent.address, 'the-shared-secret');
    try {
      const link = await waitFor(async () => {
        const info = (await client.getAgentInfo({})).link!;
        return info.state === LinkState.LINK_STATE_FAILING ? info : undefined;
      }, 'the agent to refuse the impostor');
      expect(link.lastError).toMatch(why);
      expect(impostor.seen.messages[0]).toBe('hello');
      expect(impostor.seen.messages).not.toContain('proof');
      expect(impostor.seen.messages).not.toContain('commandResult');
      expect(impostor.seen.authorization.every((header) => header === '')).toBe(true);
      expect((await client.listRepos({ pageSize: 10, pageToken: '' })).repos).toEqual([]);
    } finally {
      channel.close();
    }
  });

  it('refuses to start a plaintext link to another machine without saying so', async () => {
    const failed = await startAgentProcess({
      dataDir: join(tmp.path, 'remote'),
      extraArgs: ['--coordinator', '192.0.2.1:7421'],
    }).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(failed).toMatch(/is not on this machine: give --coordinator-ca .* or --allow-plaintext-link/);
  });
});
