import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentStatus } from '../gen/grove/coordinator/v1/coordinator_service.js';
import { createCoordinatorClient } from '../clients/sdk/index.js';
import { grove, json } from './helpers/cli.js';
import { launchBrowser, screenshot } from './helpers/browser.js';
import { freePort } from './helpers/free-port.js';
import { gatedTask } from './helpers/fixtures.js';
import { makeRepo } from './helpers/git-repo.js';
import { startAgentProcess, startCoordinatorProcess, waitFor, type ServiceProcess } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');

/** A coordinator with its page, and two agents (one repo each) linked to it. */
async function startFleet(dir: string, coordinatorArgs: string[] = [], agentArgs: string[] = [], cliArgs: string[] = []) {
  const listen = `127.0.0.1:${await freePort()}`;
  const http = `127.0.0.1:${await freePort()}`;
  const services: ServiceProcess[] = [];
  const startCoordinator = async () => {
    const service = await startCoordinatorProcess({
      dataDir: join(dir, 'coordinator'),
      listen,
      extraArgs: ['--http', http, '--agent-grace', '1s', '--agent-ttl', '2s', '--heartbeat', '200ms', ...coordinatorArgs],
    });
    services.push(service);
    return service;
  };
  const coordinator = await startCoordinator();
  const agents: Record<string, ServiceProcess> = {};
  const startAgent = async (name: string) => {
    const service = await startAgentProcess({
      dataDir: join(dir, name),
      extraArgs: ['--coordinator', listen, '--name', name, '--heartbeat', '200ms', ...agentArgs],
    });
    services.push(service);
    agents[name] = service;
    return service;
  };
  for (const name of ['north', 'south']) {
    const agent = await startAgent(name);
    // A repo of its own, and one both agents have (for attempts spread over them).
    for (const repo of [`${name}-app`, 'shared']) {
      const path = makeRepo(join(dir, `${name}-${repo}`));
      const added = await grove(['repo', 'add', path, '--name', repo, '--agent', agent.address, ...cliArgs]);
      expect(added.code, added.stderr).toBe(0);
    }
  }
  return {
    coordinator,
    listen,
    url: coordinator.httpUrl,
    agents,
    startAgent,
    startCoordinator,
    /** Both agents linked to the (restarted) coordinator, their repos in its projection. */
    async relinked() {
      const coord = createCoordinatorClient({ address: listen });
      try {
        await waitFor(async () => {
          const { agents: linked } = await coord.listAgents({});
          const { repos } = await coord.listRepos({});
          const connected = linked.filter((a) => a.status === AgentStatus.AGENT_STATUS_CONNECTED).length;
          return connected === 2 && repos.length === 4 ? true : undefined;
        }, 'both agents to relink');
      } finally {
        coord.close();
      }
    },
    async stop() {
      for (const service of services.reverse()) await service.stop();
    },
  };
}

/** The attached terminal's screen, and a line typed into it (Enter included). */
const screenOf = (page: Page) => page.locator('[data-testid="terminal"] .xterm-rows');
async function typeLine(page: Page, text: string): Promise<void> {
  await page.locator('[data-testid="terminal"] .xterm-helper-textarea').focus();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

interface CliSession {
  id: string;
  worktrees: Array<{ path: string }>;
}
/** `grove session create` through the coordinator; the session as its --json says. */
async function cliSession(coordinator: string, repo: string, branch: string, ...more: string[]): Promise<CliSession> {
  return json<{ session: CliSession }>(
    await grove(['session', 'create', '--repo', repo, '--branch', branch, ...more, '--json', '--coordinator', coordinator]),
  ).session;
}
/** `grove task run` through the coordinator (flags, then `--` and the argv); the task's id. */
async function cliTask(coordinator: string, session: string, args: string[]): Promise<string> {
  return json<{ task: { id: string } }>(await grove(['task', 'run', session, '--json', '--coordinator', coordinator, ...args])).task.id;
}

const rowOf = (page: Page, session: string) => page.locator(`[data-testid="session-row"][data-session="${session}"]`);

describe('the web page, in a real browser, against a real coordinator and two agents', () => {
  const tmp = tempDir();
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('lists both agents and their sessions; a session and a task made from the CLI appear without a reload', async () => {
    const fleet = await startFleet(join(tmp.path, 'lists'));
    const page = await browser.newPage();
    try {
      await page.goto(`${fleet.url}#/agents`);
      await page.locator('[data-testid="agent-row"][data-agent="north"] [data-testid="agent-status"]').getByText('CONNECTED').waitFor();
      await page.locator('[data-testid="agent-row"][data-agent="south"] [data-testid="agent-status"]').getByText('CONNECTED').waitFor();
      await screenshot(page, 'agents');
      await page.goto(`${fleet.url}#/sessions`);
      let navigations = 0;
      page.on('framenavigated', () => navigations++);
      const id = (await cliSession(fleet.listen, 'south-app', 'from-cli', '--title', 'Made on the CLI')).id;
      await rowOf(page, id).getByText('from-cli').waitFor();
      // Search keeps to what matches; clearing it shows every session again.
      await grove(['session', 'create', '--repo', 'north-app', '--branch', 'other-work', '--coordinator', fleet.listen]);
      await page.locator('[data-testid="session-row"][data-branch="other-work"]').waitFor();
      await page.getByTestId('search').fill('Made on the');
      await page.locator('[data-testid="session-row"][data-branch="other-work"]').waitFor({ state: 'detached' });
      expect(await page.getByTestId('session-row').count()).toBe(1);
      await page.getByTestId('search').fill('');
      await page.locator('[data-testid="session-row"][data-branch="other-work"]').waitFor();
      const taskId = await cliTask(fleet.listen, id, ['--', ...gatedTask('never-opened', 'x')]);
      await rowOf(page, id).locator('[data-testid="session-activity"]').getByText('WORKING').waitFor();
      expect(navigations).toBe(0);
      await screenshot(page, 'sessions');
      // Readable on a phone too.
      await page.setViewportSize({ width: 390, height: 844 });
      await screenshot(page, 'sessions-phone');
      await page.setViewportSize({ width: 1280, height: 720 });
      // The task's page follows its output live.
      await page.goto(`${fleet.url}#/tasks/${taskId}`);
      await page.getByTestId('task-state').getByText('RUNNING').waitFor();
      await page.getByTestId('cancel-task').click();
      await page.getByTestId('task-state').getByText('CANCELLED').waitFor();
    } finally {
      await page.close();
      await fleet.stop();
    }
  });

  it("a task's output follows live, and a terminal task is typed into from the page and answers", async () => {
    const fleet = await startFleet(join(tmp.path, 'live'));
    const page = await browser.newPage();

    try {
      const session = await cliSession(fleet.listen, 'north-app', 'live');
      const gate = 'output-gate';
      const countingId = await cliTask(fleet.listen, session.id, [
        '--',
        'sh',
        '-c',
        `echo first line; i=0; while [ ! -f ${gate} ] && [ $i -lt 6000 ]; do sleep 0.02; i=$((i+1)); done; echo second line`,
      ]);
      await page.goto(`${fleet.url}#/tasks/${countingId}`);
      await page.getByTestId('task-output').getByText('first line').waitFor();
      writeFileSync(join(session.worktrees[0]!.path, gate), '');
      await page.getByTestId('task-output').getByText('second line').waitFor();
      await page.getByTestId('task-state').getByText('SUCCEEDED').waitFor();

      const echoId = await cliTask(fleet.listen, session.id, ['--tty', '--', process.execPath, join(FIXTURES, 'echo-terminal.mjs')]);
      await page.goto(`${fleet.url}#/tasks/${echoId}`);
      await page.getByTestId('attach').click();
      await page.getByTestId('terminal-status').getByText('attached').waitFor();
      await typeLine(page, 'hello grove');
      await screenOf(page).getByText('got hello grove').waitFor();
      await screenshot(page, 'terminal');
      await page.getByTestId('attach').click(); // detach: the task goes on
      expect((await grove(['task', 'get', echoId, '--coordinator', fleet.listen])).stdout).toMatch(/RUNNING/);
      // Read-only: the screen comes back, keystrokes do not go.
      await page.getByLabel('read-only').check();
      await page.getByTestId('attach').click();
      await page.getByTestId('terminal-status').getByText('attached, read-only').waitFor();
      await screenOf(page).getByText('got hello grove').waitFor();
      await typeLine(page, 'not sent');
      await page.getByTestId('attach').click();
      await page.getByLabel('read-only').uncheck();
      await page.getByTestId('attach').click();
      await page.getByTestId('terminal-status').getByText('attached').waitFor();
      await typeLine(page, 'sent after');
      await screenOf(page).getByText('got sent after').waitFor();
      // Had the read-only keystrokes reached the program, its answer would be on the screen before this one.
      expect(await screenOf(page).textContent()).not.toContain('got not sent');
      await page.getByTestId('attach').click();
      await grove(['task', 'cancel', echoId, '--coordinator', fleet.listen]);
      // The terminal's size follows the page: a smaller window resizes the program's terminal.
      const askingId = await cliTask(fleet.listen, session.id, ['--tty', '--', process.execPath, join(FIXTURES, 'interactive-agent.mjs')]);
      await page.goto(`${fleet.url}#/tasks/${askingId}`);
      await page.getByTestId('attach').click();
      await screenOf(page).getByText('question?').waitFor();
      await page.setViewportSize({ width: 640, height: 600 });
      await screenOf(page)
        .getByText(/resized=\d+x\d+/)
        .waitFor();
      await typeLine(page, 'green');
      await screenOf(page).getByText('answer=green').waitFor();
    } finally {
      await page.close();
      await fleet.stop();
    }
  });

  it('an agent SIGKILLed turns UNKNOWN on the page, never a stale WORKING, and comes back when restarted', async () => {
    const fleet = await startFleet(join(tmp.path, 'unknown'));
    const page = await browser.newPage();
    try {
      const id = (await cliSession(fleet.listen, 'north-app', 'doomed')).id;
      await grove(['task', 'run', id, '--coordinator', fleet.listen, '--', ...gatedTask('never', 'x')]);
      await page.goto(`${fleet.url}#/sessions`);
      const activity = rowOf(page, id).locator('[data-testid="session-activity"]');
      await activity.getByText('WORKING').waitFor();
      await fleet.agents.north!.kill();
      // From here on the row may say UNKNOWN and nothing else, until the agent is back.
      await activity.getByText('UNKNOWN').waitFor();
      await page.evaluate((session) => {
        const seen: string[] = [];
        (window as unknown as { seen: string[] }).seen = seen;
        const cell = () => document.querySelector(`[data-session="${session}"] [data-testid="session-activity"]`)?.textContent ?? '';
        new MutationObserver(() => seen.push(cell())).observe(document.body, { subtree: true, childList: true, characterData: true });
      }, id);
      // The coordinator's own verdict, past the TTL: UNKNOWN.
      await waitFor(
        async () => /north +\S+ +UNKNOWN/.test((await grove(['agents', 'ls', '--coordinator', fleet.listen])).stdout),
        'north UNKNOWN',
      );
      await activity.getByText('UNKNOWN').waitFor();
      const seenWhileAway = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
      expect(seenWhileAway.filter((text) => text !== 'UNKNOWN')).toEqual([]);
      await screenshot(page, 'session-unknown');
      await fleet.startAgent('north');
      await activity.getByText('WORKING').waitFor();
      await page.goto(`${fleet.url}#/agents`);
      await page.locator('[data-testid="agent-row"][data-agent="north"] [data-testid="agent-status"]').getByText('CONNECTED').waitFor();
    } finally {
      await page.close();
      await fleet.stop();
    }
  });

  it('kill of a dirty session shows each repo refusal and removes nothing; cleanup asks first, then lists the preserved work', async () => {
    const fleet = await startFleet(join(tmp.path, 'dirty'));
    const page = await browser.newPage();
    try {
      const session = await cliSession(fleet.listen, 'south-app', 'dirty');
      const worktree = session.worktrees[0]!.path;
      writeFileSync(join(worktree, 'notes.txt'), 'my uncommitted notes\n');
      writeFileSync(join(worktree, 'README.md'), '# changed by hand\n');
      await page.goto(`${fleet.url}#/sessions/${session.id}`);
      // The review first: what the session changed, uncommitted included.
      await page.getByTestId('diff').click();
      await page.getByTestId('diff-repo').getByText('notes.txt').first().waitFor();
      expect(await page.getByTestId('diff-repo').textContent()).toMatch(/README\.md\+1-1uncommitted/);
      await page.getByTestId('kill').click();
      await page.getByTestId('refusal').first().waitFor();
      const refusals = await page.getByTestId('refusal').allTextContents();
      expect(refusals.join('\n')).toMatch(/south-app DIRTY_TRACKED/);
      expect(refusals.join('\n')).toMatch(/south-app DIRTY_UNTRACKED/);
      expect(await page.getByTestId('action-result').textContent()).toMatch(/kill refused: nothing was removed/);
      expect(readFileSync(join(worktree, 'notes.txt'), 'utf8')).toBe('my uncommitted notes\n');
      await screenshot(page, 'session-kill-refused');
      await page.getByTestId('cleanup').click();
      const dialog = page.getByTestId('cleanup-dialog');
      await dialog.waitFor();
      expect(await dialog.textContent()).toMatch(/README\.md, notes\.txt will be preserved|notes\.txt, README\.md will be preserved/);
      // Asked, not done: the files are still there until the cleanup is confirmed.
      expect(existsSync(join(worktree, 'notes.txt'))).toBe(true);
      await page.getByTestId('confirm-cleanup').click();
      await page.getByTestId('preserved').first().waitFor();
      expect(await page.getByTestId('preserved').first().textContent()).toMatch(/south-app refs\/grove\/preserved\//);
      await page.getByTestId('session-state').getByText('STOPPED').waitFor();
      expect(existsSync(worktree)).toBe(false);
      await screenshot(page, 'session-preserved');
      // Restore brings the worktree back on its branch.
      await page.getByRole('button', { name: 'Restore' }).click();
      await page.getByTestId('session-state').getByText('ACTIVE').waitFor();
      expect(existsSync(worktree)).toBe(true);
    } finally {
      await page.close();
      await fleet.stop();
    }
  });

  it('with a token: nothing is served before login, the page shows only the login, and a cross-site POST is refused', async () => {
    const dir = join(tmp.path, 'token');
    const tokenFile = join(tmp.path, 'token-file');
    writeFileSync(tokenFile, 'page-token\n');
    const auth = ['--token-file', tokenFile];
    const fleet = await startFleet(dir, auth, auth, auth);
    const page = await browser.newPage();
    try {
      const api = (path: string, init?: RequestInit) => fetch(new URL(path, fleet.url), init);
      for (const path of ['api/watch?from=0', 'api/log?task=tsk_x', 'metrics']) expect((await api(path)).status, path).toBe(401);
      const call = (headers: Record<string, string>) =>
        api('api/call/coordinator/ListAgents', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
      expect((await call({ origin: fleet.url.replace(/\/$/, '') })).status).toBe(401);
      expect(await upgradeStatus(new URL('api/attach?task=tsk_x', fleet.url), {})).toBe(401);

      await page.goto(fleet.url);
      await page.getByTestId('login').waitFor();
      expect(await page.locator('header').count(), await page.content()).toBe(0);
      await screenshot(page, 'login');
      await page.getByTestId('token').fill('wrong');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByText('that is not the token').waitFor();
      await page.getByTestId('token').fill('page-token');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.goto(`${fleet.url}#/agents`);
      await page.locator('[data-testid="agent-row"][data-agent="south"]').waitFor();

      const [cookie] = await page.context().cookies();
      expect(cookie).toMatchObject({ name: 'grove_session', httpOnly: true, sameSite: 'Strict' });
      const jar = { cookie: `${cookie!.name}=${cookie!.value}` };
      // The cookie works from the page's own origin, and from nowhere else.
      expect((await call({ ...jar, origin: fleet.url.replace(/\/$/, '') })).status).toBe(200);
      const crossSite = await call({ ...jar, origin: 'http://attacker.example' });
      expect(crossSite.status).toBe(403);
      expect(await crossSite.json()).toMatchObject({ reason: 'CROSS_SITE' });
      expect(await upgradeStatus(new URL('api/attach?task=tsk_x', fleet.url), { ...jar, origin: 'http://attacker.example' })).toBe(403);
      // Security headers on the page itself.
      const headers = (await api('')).headers;
      expect(headers.get('content-security-policy')).toMatch(/script-src 'self'/);
      expect(headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
      expect(headers.get('x-frame-options')).toBe('DENY');
    } finally {
      await page.close();
      await fleet.stop();
    }
  });

  it('shows a task that waits for a person in the badge; input sent from the page answers it', async () => {
    const fleet = await startFleet(join(tmp.path, 'needs-input'));
    const context = await browser.newContext({ permissions: ['notifications'] });
    // Headless Chromium shows no notifications: the page's calls are recorded instead.
    await context.addInitScript(() => {
      const shown: string[] = [];
      (window as unknown as { shown: string[] }).shown = shown;
      class Recorded {
        static permission = 'granted';
        static requestPermission = () => Promise.resolve('granted');
        constructor(title: string) {
          shown.push(title);
        }
      }
      (window as unknown as { Notification: unknown }).Notification = Recorded;
    });
    const page = await context.newPage();
    try {
      const id = (await cliSession(fleet.listen, 'north-app', 'asks')).id;
      await page.goto(`${fleet.url}#/sessions`);
      await page.getByTestId('needs-input-count').getByText('0 need input').waitFor();
      const script =
        'node "$GROVE_CLI" signal needs-input --message "which colour?"; printf "which colour? "; read -t 60 answer; node "$GROVE_CLI" signal working; echo "painting it $answer"';
      const taskId = await cliTask(fleet.listen, id, ['--tty', '--', 'bash', '-c', script]);
      await page.getByTestId('needs-input-count').getByText('1 need input').waitFor();
      await waitFor(() => page.evaluate(() => (window as unknown as { shown: string[] }).shown[0]), 'a notification');
      expect(await page.evaluate(() => (window as unknown as { shown: string[] }).shown)).toEqual(['Grove: asks needs input']);
      await rowOf(page, id).locator('[data-testid="session-activity"]').getByText('NEEDS_INPUT').waitFor();
      await screenshot(page, 'needs-input');
      await page.goto(`${fleet.url}#/tasks/${taskId}`);
      await page.getByTestId('task-output').getByText('which colour?').waitFor();
      await page.getByTestId('task-input').fill('blue');
      await page.getByTestId('task-input').press('Enter');
      await page.getByTestId('task-output').getByText('painting it blue').waitFor();
      await page.getByTestId('needs-input-count').getByText('0 need input').waitFor();
    } finally {
      await context.close();
      await fleet.stop();
    }
  });

  it('starts a task, fans out, shows the attempts side by side, picks one and lands it, with the job on the jobs page', async () => {
    const fleet = await startFleet(join(tmp.path, 'fan-out'));
    const page = await browser.newPage();
    try {
      const id = (await cliSession(fleet.listen, 'south-app', 'from-page')).id;
      await page.goto(`${fleet.url}#/sessions/${id}`);
      await page.getByTestId('task-command').fill('echo started from the page');
      await page.getByTestId('task-command').press('Enter');
      await page.getByTestId('task-output').getByText('started from the page').waitFor();
      // A profile run: the agent's built-in shell profile, the text its prompt.
      await page.goto(`${fleet.url}#/sessions/${id}`);
      await page.getByTestId('task-profile').selectOption('shell');
      await page.getByTestId('task-command').fill('echo "a profile run in $(basename "$PWD")"');
      await page.getByTestId('task-command').press('Enter');
      await page.getByTestId('task-output').getByText('a profile run in south-app').waitFor();

      await page.goto(`${fleet.url}#/groups`);
      await page.getByPlaceholder('repo').fill('shared');
      await page
        .getByPlaceholder('command each attempt runs')
        .fill('echo "$GROVE_TASK_ID" > ATTEMPT && git add ATTEMPT && git commit -qm attempt');
      await page.getByRole('button', { name: 'Fan out' }).click();
      const group = page.getByTestId('group').first();
      await group.waitFor();
      await waitFor(async () => ((await group.getByText('task SUCCEEDED').count()) === 2 ? true : undefined), 'both attempts done');
      const members = await group.locator('.member').allTextContents();
      expect(members).toHaveLength(2);
      expect(members.map((m) => m.slice(0, 2)).sort()).toEqual(['#1', '#2']);
      expect(members.some((m) => m.includes('on north'))).toBe(true);
      expect(members.some((m) => m.includes('on south'))).toBe(true);
      await screenshot(page, 'groups');
      await group.getByRole('button', { name: 'Pick and land' }).first().click();
      await group.locator('.member.picked').waitFor();
      await page.goto(`${fleet.url}#/jobs`);
      await page.locator('[data-testid="job-row"]').filter({ hasText: 'land_session' }).filter({ hasText: 'SUCCEEDED' }).waitFor();
      await screenshot(page, 'jobs');
    } finally {
      await page.close();
      await fleet.stop();
    }
  });

  it('refuses to serve the page beyond loopback without a token', async () => {
    const run = await grove([
      'coordinator',
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--http',
      '0.0.0.0:0',
      '--data-dir',
      join(tmp.path, 'open'),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--http 0.0.0.0:0 is not a loopback address: serving the page beyond this machine needs --token-file/);
  });

  it('survives a dropped connection and a coordinator restart without a reload: it resumes, or lists again, and goes on', async () => {
    const fleet = await startFleet(join(tmp.path, 'restart'));
    const proxy = await tcpProxy(new URL(fleet.url));
    const page = await browser.newPage();
    try {
      await page.goto(`${proxy.url}#/sessions`);
      await page.getByTestId('link-state').getByText('live').waitFor();
      let navigations = 0;
      page.on('framenavigated', () => navigations++);
      const watches: string[] = [];
      page.on(
        'request',
        (request) => request.url().includes('/api/watch') && watches.push(new URL(request.url()).searchParams.get('from')!),
      );
      // A dropped connection (the proxy between the page and the coordinator cuts every socket):
      // the page resumes from the last revision it applied, without listing again.
      proxy.dropAll();
      await waitFor(() => watches.length >= 1 || undefined, 'the page to watch again');
      const whileAway = (await cliSession(fleet.listen, 'south-app', 'after-drop')).id;
      await rowOf(page, whileAway).getByText('after-drop').waitFor();
      expect(watches.every((from) => Number(from) > 0)).toBe(true);
      await fleet.coordinator.stop();
      await page.getByTestId('link-state').getByText('reconnecting').waitFor();
      await fleet.startCoordinator();
      await page.getByTestId('link-state').getByText('live').waitFor();
      // The page is live once the coordinator is; the agents relink on their own backoff.
      await fleet.relinked();
      const id = (await cliSession(fleet.listen, 'north-app', 'after-restart')).id;
      await rowOf(page, id).getByText('after-restart').waitFor();
      expect(navigations).toBe(0);
    } finally {
      await page.close();
      proxy.close();
      await fleet.stop();
    }
  });
});

/** A TCP proxy in front of `target`: `dropAll` cuts every connection through it, as a network would. */
async function tcpProxy(target: URL): Promise<{ url: string; dropAll(): void; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const dropAll = () => sockets.forEach((socket) => socket.destroy());
  return { url: `http://127.0.0.1:${port}/`, dropAll, close: () => (dropAll(), server.close()) };
}

/** The status a WebSocket upgrade request gets (101 when it is let through). */
function upgradeStatus(url: URL, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      },
    });
    request.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve(response.statusCode ?? 0);
    });
    request.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}
