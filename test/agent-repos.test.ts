import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createChannel, createClient, Metadata, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentServiceDefinition,
  type AgentServiceClient,
} from '../gen/grove/agent/v1/agent_service.js';
import { makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

describe('agent repos', () => {
  const tmp = tempDir();
  let agent: ServiceProcess;
  let channel: Channel;
  let client: AgentServiceClient;

  beforeAll(async () => {
    agent = await startAgentProcess({ dataDir: join(tmp.path, 'agent') });
    channel = createChannel(agent.address);
    client = createClient(AgentServiceDefinition, channel);
  });
  afterAll(async () => {
    channel?.close();
    await agent?.stop();
    tmp.remove();
  });

  it('adds a repo by realpath and detects its default branch', async () => {
    const repoPath = makeRepo(join(tmp.path, 'alpha'), undefined, 'trunk');
    mkdirSync(join(tmp.path, 'links'));
    symlinkSync(repoPath, join(tmp.path, 'links', 'alpha-link'));
    const tricky = join(tmp.path, 'links', '..', 'links', 'alpha-link');
    const { repo } = await client.addRepo({ path: tricky, name: '' });
    expect(repo?.path).toBe(repoPath);
    expect(repo?.name).toBe('alpha');
    expect(repo?.defaultBranch).toBe('trunk');
  });
});
