import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createAgentClient } from '../clients/sdk/index.js';
import { startAgent } from '../services/agent/agent.js';
import { createLogger } from '../services/common/logging.js';
import type { Bench } from './bench-case.js';
import { generateRepo } from './fixtures.js';

const run = promisify(execFile);
// Compiled to dist/bench/: the CLI and the baseline script are found from there.
const CLI = fileURLToPath(new URL('../clients/cli/main.js', import.meta.url));
const BARE = fileURLToPath(new URL('../../bench/cli-list-sessions.mjs', import.meta.url));
const CLI_CASE = 'grove session ls --json (whole process)';

/**
 * What a person waits for at the prompt: `grove session ls --json` against a live agent with
 * a few sessions, as a whole process (node start, module loading, the call, the output),
 * against the smallest script that makes the same call with bare @grpc/grpc-js.
 */
export const cliStartupBench: Bench = {
  name: 'cli-startup',
  options: { calls: 30, warmupCalls: 3, rounds: 3 },
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'grove-bench-cli-'));
    const agent = await startAgent({ listen: '127.0.0.1:0', dataDir: join(dir, 'agent'), log: createLogger({ level: 'silent' }) });
    const sdk = createAgentClient({ address: agent.address });
    const { repo } = await sdk.addRepo({ path: generateRepo(join(dir, 'repo'), 10), name: 'app' });
    for (let i = 0; i < 5; i++) await sdk.createSession({ repoIds: [repo!.id], branch: `s${i}` });
    const env = { ...process.env, GROVE_AGENT: '', GROVE_COORDINATOR: '' };
    return {
      baseline: {
        name: 'bare grpc-js script, the same ListSessions (whole process)',
        call: () => run(process.execPath, [BARE, agent.address], { env }),
      },
      cases: [
        { name: CLI_CASE, call: () => run(process.execPath, [CLI, 'session', 'ls', '--json', '--agent', agent.address], { env }) },
        { name: 'grove version (no call)', call: () => run(process.execPath, [CLI, 'version'], { env }) },
        { name: 'node -e 0', call: () => run(process.execPath, ['-e', '0'], { env }) },
      ],
      targeted: new Set([CLI_CASE]),
      targetRatio: 1.3,
      async teardown() {
        sdk.close();
        await agent.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
