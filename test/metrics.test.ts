import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskState } from '../gen/grove/agent/v1/resources.js';
import { AgentStatus } from '../gen/grove/coordinator/v1/coordinator_service.js';
import { createAgentClient, createCoordinatorClient, type AgentClient, type CoordinatorClient } from '../clients/sdk/index.js';
import { makeRepo } from './helpers/git-repo.js';
import { parsePrometheusText, sampleValue, scrape } from './helpers/metrics.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

const TOKEN = 'metrics-test-token';

describe('Prometheus metrics', () => {
  const tmp = tempDir();
  const coordinatorDir = join(tmp.path, 'coordinator');
  const agentDir = join(tmp.path, 'agent');
  let coordinator: ServiceProcess;
  let agent: ServiceProcess;
  let coord: CoordinatorClient;
  let agentApi: AgentClient;

  beforeAll(async () => {
    const tokenFile = join(tmp.path, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    coordinator = await startCoordinatorProcess({
      dataDir: coordinatorDir,
      extraArgs: ['--token-file', tokenFile, '--http', '127.0.0.1:0'],
    });
    agent = await startAgentProcess({
      dataDir: agentDir,
      extraArgs: ['--token-file', tokenFile, '--metrics', '127.0.0.1:0', '--coordinator', coordinator.address, '--name', 'metered'],
    });
    coord = createCoordinatorClient({ address: coordinator.address, token: TOKEN });
    agentApi = createAgentClient({ address: agent.address, token: TOKEN });
    await waitFor(
      async () => (await coord.listAgents({})).agents.find((a) => a.status === AgentStatus.AGENT_STATUS_CONNECTED),
      'the agent to link',
    );
  });
  afterAll(async () => {
    coord?.close();
    agentApi?.close();
    await agent?.stop();
    await coordinator?.stop();
    tmp.remove();
  });

  it('asks for the token before anything else, and answers only GET', async () => {
    for (const [dir, file] of [
      [coordinatorDir, 'http-address'],
      [agentDir, 'metrics-address'],
    ] as const) {
      const url = `http://${readFileSync(join(dir, file), 'utf8').trim()}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(405);
      const missing = await fetch(url.replace('/metrics', '/nothing'), { headers: { authorization: `Bearer ${TOKEN}` } });
      if (file === 'metrics-address') {
        expect(missing.status).toBe(404);
        expect(await missing.text()).toMatch(/try \/metrics/);
      } else {
        // The coordinator's HTTP face is its web page: any other path is the page (its own routes).
        expect(missing.status).toBe(200);
        expect(missing.headers.get('content-type')).toMatch(/text\/html/);
      }
    }
  });

  it('parses as Prometheus text, and its numbers move with the fleet', async () => {
    const before = await scrape(agentDir, 'metrics-address', TOKEN);
    expect(sampleValue(before, 'grove_agent_link_state', { state: 'connected' })).toBe(1);
    expect(sampleValue(before, 'grove_agent_link_welcomes_total')).toBeGreaterThanOrEqual(1);
    const succeededBefore = sampleValue(before, 'grove_agent_tasks', { state: 'succeeded' }) ?? 0;
    const coordinatorBefore = await scrape(coordinatorDir, 'http-address', TOKEN);
    expect(sampleValue(coordinatorBefore, 'grove_coordinator_agents', { status: 'connected' })).toBe(1);
    expect(sampleValue(coordinatorBefore, 'grove_coordinator_link_joins_total')).toBeGreaterThanOrEqual(1);
    // Process metrics come with each registry.
    expect(sampleValue(coordinatorBefore, 'grove_coordinator_process_resident_memory_bytes')).toBeGreaterThan(0);

    const repo = await agentApi.addRepo({ path: makeRepo(join(tmp.path, `repo-${Date.now()}`)), name: `r${Date.now()}` });
    const { session } = await agentApi.createSession({
      repoIds: [repo.repo!.id],
      branch: `metrics-${Date.now()}`,
      base: '',
      title: '',
      labels: {},
      requestId: '',
    });
    const { task } = await agentApi.startTask({ sessionId: session!.id, argv: ['true'], prompt: '', env: {}, repoId: '', requestId: '' });
    await waitFor(
      async () => ((await agentApi.getTask({ id: task!.id })).state === TaskState.TASK_STATE_SUCCEEDED ? true : undefined),
      'the task to succeed',
    );

    const after = await scrape(agentDir, 'metrics-address', TOKEN);
    expect(sampleValue(after, 'grove_agent_tasks', { state: 'succeeded' })).toBe(succeededBefore + 1);
    expect(sampleValue(after, 'grove_agent_sessions', { state: 'active' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(after, 'grove_agent_event_log_revision')).toBeGreaterThan(sampleValue(before, 'grove_agent_event_log_revision')!);
    expect(sampleValue(after, 'grove_agent_task_queue_depth')).toBe(0);
    // The StartTask call was timed under its method, with its status.
    expect(
      sampleValue(after, 'grove_agent_rpc_duration_seconds_count', { method: '/grove.agent.v1.AgentService/StartTask', code: 'OK' }),
    ).toBe(1);
    // The coordinator's projection follows the agent.
    await waitFor(async () => {
      const seen = await scrape(coordinatorDir, 'http-address', TOKEN);
      return sampleValue(seen, 'grove_coordinator_tasks', { state: 'succeeded' }) === succeededBefore + 1 ? true : undefined;
    }, 'the coordinator metrics to count the task');
  });

  it('refuses text that is not the exposition format (the parser the tests rely on is strict)', () => {
    expect(() => parsePrometheusText('# TYPE x gauge\nx 1\n')).not.toThrow();
    expect(() => parsePrometheusText('x 1\n')).toThrow(/no # TYPE/);
    expect(() => parsePrometheusText('# TYPE x gauge\nx{a="1" 2\n')).toThrow(/not Prometheus text/);
  });
});
