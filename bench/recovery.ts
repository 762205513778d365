import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { createAgentClient } from '../clients/sdk/index.js';
import { startAgent, type RunningAgent } from '../services/agent/agent.js';
import { createLogger } from '../services/common/logging.js';
import type { Bench } from './bench-case.js';
import { generateRepo } from './fixtures.js';

const ACTIVE_SESSIONS = 200;
const STOPPED_SESSIONS = 800;
const TASKS_PER_SESSION = 10;
const RUNNING_TASKS = 100;
const CASE = `start-up with ${ACTIVE_SESSIONS + STOPPED_SESSIONS} sessions, ${(ACTIVE_SESSIONS + STOPPED_SESSIONS) * TASKS_PER_SESSION} tasks`;

function sql(file: string, statements: Array<[string, unknown[]]>): Promise<void> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, (err) => {
      if (err) return reject(err);
      db.serialize(() => {
        db.run('begin');
        for (const [text, params] of statements) db.run(text, params);
        db.run('commit', (commitErr) => db.close(() => (commitErr ? reject(commitErr) : resolve())));
      });
    });
  });
}

const quiet = () => createLogger({ level: 'silent' });

/**
 * Start-up recovery: an agent opening a database of 1,000 sessions (200 with live
 * worktrees, probed for drift) and 10,000 tasks, 100 of them left RUNNING by a crash with
 * their runners gone, so every start marks them INTERRUPTED again. The baseline is the
 * same agent starting on an empty (migrated) database. Target: under 1 s absolute, shown
 * in the MEDIAN column.
 */
export const recoveryBench: Bench = {
  name: 'recovery',
  options: { calls: 5, warmupCalls: 1, rounds: 5 },
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'grove-bench-recovery-'));
    const full = join(dir, 'full');
    const empty = join(dir, 'empty');
    const worktreeRoot = join(dir, 'worktrees');
    const seed = await startAgent({ listen: '127.0.0.1:0', dataDir: full, worktreeRoot, log: quiet() });
    const sdk = createAgentClient({ address: seed.address, defaultDeadlineMs: 60_000 });
    const { repo } = await sdk.addRepo({ path: generateRepo(join(dir, 'repo'), 20), name: 'repo' });
    const sessionIds: string[] = [];
    for (let i = 0; i < ACTIVE_SESSIONS; i++) {
      sessionIds.push((await sdk.createSession({ repoIds: [repo!.id], branch: `s${i}` })).session!.id);
    }
    sdk.close();
    await seed.close();
    await (await startAgent({ listen: '127.0.0.1:0', dataDir: empty, worktreeRoot: join(dir, 'wt-empty'), log: quiet() })).close();

    const now = Date.now();
    const statements: Array<[string, unknown[]]> = [];
    for (let i = 0; i < STOPPED_SESSIONS; i++) {
      const id = `ses_stopped${String(i).padStart(11, '0')}`;
      sessionIds.push(id);
      statements.push([
        "insert into session (id, title, branch, base, state, labels, request_id, last_error, created_at, updated_at) values (?, '', ?, '', 'STOPPED', '{}', null, '', ?, ?)",
        [id, `old${i}`, now, now],
      ]);
      statements.push([
        "insert into session_worktree (session_id, repo_id, repo_name, path, branch, created_branch, state) values (?, ?, 'repo', ?, ?, 1, 'REMOVED')",
        [id, repo!.id, join(worktreeRoot, id, 'repo'), `old${i}`],
      ]);
    }
    let n = 0;
    const running: string[] = [];
    for (const sessionId of sessionIds) {
      for (let seq = 1; seq <= TASKS_PER_SESSION; seq++) {
        const id = `tsk_bench${String(n++).padStart(13, '0')}`;
        const isRunning = running.length < RUNNING_TASKS && seq === TASKS_PER_SESSION;
        if (isRunning) running.push(id);
        statements.push([
          "insert into task (id, session_id, seq, prompt, argv, env, repo_id, cwd, state, pid, pid_start_ticks, boot_id, exit_code, run_dir, created_at) values (?, ?, ?, '', '[\"true\"]', '{}', ?, ?, ?, ?, 1, 'gone', ?, ?, ?)",
          [
            id,
            sessionId,
            seq,
            repo!.id,
            worktreeRoot,
            isRunning ? 'RUNNING' : 'SUCCEEDED',
            isRunning ? 999_999 : 0,
            isRunning ? null : 0,
            join(dir, 'runs', id),
            now,
          ],
        ]);
      }
    }
    const database = join(full, 'agent.sqlite');
    await sql(database, statements);
    const markRunning = () =>
      sql(
        database,
        running.map((id) => ["update task set state = 'RUNNING', ended_at = null where id = ?", [id]]),
      );

    let open: RunningAgent | undefined;
    const closeOpen = async () => {
      await open?.close();
      open = undefined;
    };
    return {
      baseline: {
        name: 'start-up on an empty database (baseline)',
        async call() {
          open = await startAgent({ listen: '127.0.0.1:0', dataDir: empty, worktreeRoot: join(dir, 'wt-empty'), log: quiet() });
        },
        reset: closeOpen,
      },
      cases: [
        {
          name: CASE,
          async call() {
            open = await startAgent({ listen: '127.0.0.1:0', dataDir: full, worktreeRoot, log: quiet() });
          },
          async reset() {
            await closeOpen();
            await markRunning();
          },
        },
      ],
      targeted: new Set<string>(),
      targetRatio: Number.POSITIVE_INFINITY,
      async teardown() {
        await closeOpen();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
