import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createAgentClient, createCoordinatorClient } from '../clients/sdk/index.js';
import type { Bench } from './bench-case.js';
import { generateRepo, until } from './fixtures.js';

const AGENT_MAIN = fileURLToPath(new URL('../services/agent/main.js', import.meta.url));
const COORDINATOR_MAIN = fileURLToPath(new URL('../services/coordinator/main.js', import.meta.url));

function spawnService(main: string, args: string[], dataDir: string): { child: ChildProcess; ready: Promise<string[]> } {
  const readyFile = join(dataDir, 'ready');
  const child = spawn(process.execPath, [main, ...args, '--data-dir', dataDir, '--ready-file', readyFile, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const ready = until(() => (existsSync(readyFile) ? readFileSync(readyFile, 'utf8').trim().split('\n') || undefined : undefined), main);
  return { child, ready };
}

/**
 * How fast the page shows what happens: a session created on an agent, timed until its row
 * is in the page's DOM (coordinator → Server-Sent Events → React, in Debian's Chromium),
 * against the same session reaching an SDK watcher of the coordinator. Both include the
 * CreateSession call itself; the ratio is what the browser path adds.
 */
export const webLatencyBench: Bench = {
  name: 'web-latency',
  options: { calls: 40, warmupCalls: 4, rounds: 4 },
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'grove-bench-web-'));
    const coordinator = spawnService(COORDINATOR_MAIN, ['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'], join(dir, 'coordinator'));
    const [grpcAddress, pageUrl] = await coordinator.ready;
    const agent = spawnService(
      AGENT_MAIN,
      ['--listen', '127.0.0.1:0', '--coordinator', grpcAddress!, '--name', 'bench'],
      join(dir, 'agent'),
    );
    const [agentAddress] = await agent.ready;
    const sdk = createAgentClient({ address: agentAddress!, defaultDeadlineMs: 60_000 });
    const { repo } = await sdk.addRepo({ path: generateRepo(join(dir, 'repo'), 10), name: 'app' });
    const watcher = createCoordinatorClient({ address: grpcAddress! });
    const waiting = new Map<string, () => void>();
    const stopWatch = new AbortController();
    void (async () => {
      for await (const change of watcher.watchChanges({ signal: stopWatch.signal })) {
        const payload = change.change?.$case === 'event' ? change.change.value.payload : undefined;
        if (payload?.$case === 'session') waiting.get(payload.value.branch)?.();
      }
    })().catch(() => undefined);
    const browser = await chromium.launch({
      executablePath: process.env.GROVE_CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage();
    await page.goto(`${pageUrl}#/sessions`);
    await page.getByTestId('link-state').getByText('live').waitFor();
    let n = 0;
    const create = (branch: string) => sdk.createSession({ repoIds: [repo!.id], branch });
    return {
      baseline: {
        name: 'session created → seen by an SDK watcher of the coordinator',
        async call() {
          const branch = `sdk-${++n}`;
          const seen = new Promise<void>((resolve) => waiting.set(branch, resolve));
          await create(branch);
          await seen;
          waiting.delete(branch);
        },
      },
      cases: [
        {
          name: "session created → its row in the page's DOM (Chromium)",
          async call() {
            const branch = `page-${++n}`;
            const shown = page.evaluate(
              (b) =>
                new Promise<void>((resolve) => {
                  const done = () => {
                    if (!document.querySelector(`[data-branch="${b}"]`)) return;
                    observer.disconnect();
                    resolve();
                  };
                  const observer = new MutationObserver(done);
                  observer.observe(document.body, { childList: true, subtree: true });
                  done();
                }),
              branch,
            );
            await create(branch);
            await shown;
          },
        },
      ],
      targeted: new Set(),
      targetRatio: 2,
      async teardown() {
        stopWatch.abort();
        await browser.close();
        watcher.close();
        sdk.close();
        for (const child of [agent.child, coordinator.child]) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
