import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChannelCredentials, createChannel, createClient, Metadata, Status, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentStatus,
  CoordinatorServiceDefinition,
  type CoordinatorServiceClient,
} from '../gen/grove/coordinator/v1/coordinator_service.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { agentClient } from './helpers/grpc.js';
import { LinkState } from '../gen/grove/agent/v1/agent_service.js';
import { tempDir } from './helpers/temp.js';

describe('coordinator bearer token', () => {
  const tmp = tempDir();
  const rightToken = join(tmp.path, 'right.token');
  const wrongToken = join(tmp.path, 'wrong.token');
  const processes: ServiceProcess[] = [];
  const channels: Channel[] = [];
  let coordinator: ServiceProcess;

  const clientWith = (metadata?: Metadata): CoordinatorServiceClient => {
    const channel = createChannel(coordinator.address);
    channels.push(channel);
    return createClient(CoordinatorServiceDefinition, channel, metadata ? { '*': { metadata } } : {});
  };
  const bearer = (token: string) => Metadata({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    writeFileSync(rightToken, 'the-right-token\n');
    writeFileSync(wrongToken, 'not-the-token\n');
    coordinator = await startCoordinatorProcess({
      dataDir: join(tmp.path, 'coordinator'),
      extraArgs: ['--token-file', rightToken, '--heartbeat', '200ms', '--agent-grace', '2s'],
    });
    processes.push(coordinator);
  });
  afterAll(async () => {
    for (const channel of channels) channel.close();
    for (const p of processes.reverse()) await p.stop();
    tmp.remove();
  });

  it('refuses a link with the wrong token: the agent says why, and the coordinator never registers it', async () => {
    const agent = await startAgentProcess({
      dataDir: join(tmp.path, 'intruder'),
      extraArgs: ['--coordinator', coordinator.address, '--name', 'intruder', '--token-file', wrongToken],
    });
    processes.push(agent);
    const { client: agentApi, channel } = agentClient(agent.address, 'not-the-token');
    channels.push(channel);
    // The coordinator proves first; with another token its proof does not hold for this agent.
    const link = await waitFor(async () => {
      const info = (await agentApi.getAgentInfo({})).link!;
      return info.state === LinkState.LINK_STATE_FAILING ? info : undefined;
    }, 'the agent to give up on the link');
    expect(link.lastError).toMatch(/could not prove it holds the shared token/);
    expect((await clientWith(bearer('the-right-token')).listAgents({})).agents).toEqual([]);
  });

  it('answers UNAUTHENTICATED to clients without the token or with a wrong one', async () => {
    await expect(clientWith().listAgents({})).rejects.toMatchObject({ code: Status.UNAUTHENTICATED });
    await expect(clientWith(bearer('not-the-token')).listAgents({})).rejects.toMatchObject({
      code: Status.UNAUTHENTICATED,
    });
    await expect(clientWith(bearer('the-right-token')).listAgents({})).resolves.toMatchObject({ agents: [] });
  });

  it('refuses an unauthenticated caller from its headers, before its body is buffered', async () => {
    const peakRss = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${coordinator.child.pid}/status`, 'utf8'))![1]) * 1024;
    const before = peakRss();
    const huge = 'x'.repeat(60 * 1024 * 1024); // under the 64 MiB message limit, so only auth can stop it
    await expect(clientWith().listAgents({ labelSelector: huge })).rejects.toMatchObject({ code: Status.UNAUTHENTICATED });
    await expect(clientWith(bearer('not-the-token')).listAgents({ labelSelector: huge })).rejects.toMatchObject({
      code: Status.UNAUTHENTICATED,
    });
    // Buffering either request would have raised the peak by 60 MiB at least.
    expect(peakRss() - before).toBeLessThan(32 * 1024 * 1024);
  });

  it('links an agent that presents the right token', async () => {
    const agent = await startAgentProcess({
      dataDir: join(tmp.path, 'member'),
      extraArgs: ['--coordinator', coordinator.address, '--name', 'member', '--token-file', rightToken],
    });
    processes.push(agent);
    const client = clientWith(bearer('the-right-token'));
    const agents = await waitFor(async () => {
      const found = (await client.listAgents({ status: AgentStatus.AGENT_STATUS_CONNECTED })).agents;
      return found.length > 0 ? found : undefined;
    }, 'the member agent to link');
    expect(agents.map((a) => a.name)).toEqual(['member']);
    const { client: agentApi, channel } = agentClient(processes[processes.length - 1]!.address, 'the-right-token');
    channels.push(channel);
    expect((await agentApi.getAgentInfo({})).link).toEqual({
      coordinator: coordinator.address,
      state: LinkState.LINK_STATE_CONNECTED,
      lastError: '',
    });
  });
});

describe('coordinator over TLS', () => {
  const tmp = tempDir();
  const cert = join(tmp.path, 'cert.pem');
  const key = join(tmp.path, 'key.pem');
  const processes: ServiceProcess[] = [];
  let channel: Channel | undefined;
  let coordinator: ServiceProcess;

  beforeAll(async () => {
    // Self-signed for 127.0.0.1: the certificate is its own CA.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    coordinator = await startCoordinatorProcess({
      dataDir: join(tmp.path, 'coordinator'),
      extraArgs: ['--tls-cert', cert, '--tls-key', key, '--heartbeat', '200ms', '--agent-grace', '2s'],
    });
    processes.push(coordinator);
  });
  afterAll(async () => {
    channel?.close();
    for (const p of processes.reverse()) await p.stop();
    tmp.remove();
  });

  it('links an agent that verifies the coordinator with the CA; a plaintext agent never links', async () => {
    const plaintext = await startAgentProcess({
      dataDir: join(tmp.path, 'plaintext'),
      extraArgs: ['--coordinator', coordinator.address, '--name', 'plaintext'],
    });
    processes.push(plaintext);
    const verified = await startAgentProcess({
      dataDir: join(tmp.path, 'verified'),
      extraArgs: ['--coordinator', coordinator.address, '--name', 'verified', '--coordinator-ca', cert],
    });
    processes.push(verified);
    channel = createChannel(coordinator.address, ChannelCredentials.createSsl(readFileSync(cert)));
    const client = createClient(CoordinatorServiceDefinition, channel);
    await waitFor(async () => (await client.listAgents({})).agents.length > 0 || undefined, 'the verified agent');
    const { client: plaintextApi, channel: plaintextChannel } = agentClient(plaintext.address);
    try {
      await waitFor(
        async () => ((await plaintextApi.getAgentInfo({})).link?.state === LinkState.LINK_STATE_FAILING ? true : undefined),
        'the plaintext agent to fail',
      );
    } finally {
      plaintextChannel.close();
    }
    expect((await client.listAgents({})).agents.map((a) => a.name)).toEqual(['verified']);
  });
});
