import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startAgentProcess, startCoordinatorProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

const run = promisify(execFile);
// Debian's Python with its python3-grpcio and python3-protobuf (make test installs them).
const PYTHON = '/usr/bin/python3';
const CLIENT = join(import.meta.dirname, 'fixtures', 'reflect.py');

describe('server reflection, as tools outside Node see it', () => {
  const tmp = tempDir();

  it('lists and describes every service of the agent and the coordinator, health included, in v1 and v1alpha', async () => {
    const coordinator = await startCoordinatorProcess({ dataDir: join(tmp.path, 'coordinator') });
    const agent = await startAgentProcess({ dataDir: join(tmp.path, 'agent') });
    try {
      for (const [service, address] of [
        ['grove.agent.v1.AgentService', agent.address],
        ['grove.coordinator.v1.CoordinatorService', coordinator.address],
      ] as const) {
        for (const protocol of ['v1', 'v1alpha']) {
          const { stdout } = await run(PYTHON, [CLIENT, address, protocol], { timeout: 60_000 });
          const described = Object.fromEntries(
            stdout
              .trim()
              .split('\n')
              .map((line) => line.split(': ') as [string, string]),
          );
          expect(described['grpc.health.v1.Health'], `${address} ${protocol}`).toBe('Check,Watch');
          expect(described[service], `${address} ${protocol}`).toMatch(/^\w+(,\w+)+$/);
          expect(Object.values(described)).not.toContain('NOT DESCRIBED');
        }
      }
    } finally {
      await agent.stop();
      await coordinator.stop();
    }
  });
});
