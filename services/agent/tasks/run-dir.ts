import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { claudeHookSettings } from '../domain/profiles.js';
import type { TaskRow } from '../store/entities.js';
import { portEnvironment } from '../domain/port-blocks.js';
import { taskEnvironment } from './task-request.js';

// The grove CLI, for tasks that report their activity (`$GROVE_CLI signal needs-input`).
const GROVE_CLI = fileURLToPath(new URL('../../../clients/cli/main.js', import.meta.url));

/** Claude Code's hook settings for a run, inside its run directory (never the worktree). */
export const HOOKS_FILE_NAME = 'hooks-settings.json';

const readAddress = (file: string) => {
  try {
    return file ? readFileSync(file, 'utf8').trim() : '';
  } catch {
    return ''; // not serving yet (a task launched during start-up recovery)
  }
};

/**
 * Writes what the runner reads (spec.json, the prompt, hook settings) into the task's run
 * directory, owner-only: it holds the task's secret, and a terminal task's socket. Answers
 * the secret `grove signal` proves itself with; only its hash is kept in the row.
 */
export function prepareRunDir(
  task: TaskRow,
  options: { logCapBytes: number; agentAddressFile: string; claudeHooks: boolean; ports: readonly number[] },
): string {
  mkdirSync(task.runDir, { recursive: true, mode: 0o700 });
  chmodSync(task.runDir, 0o700);
  const secret = randomBytes(24).toString('base64url');
  const env: Record<string, string> = {
    ...taskEnvironment(task, task.runDir),
    ...portEnvironment(options.ports),
    GROVE_TASK_SECRET: secret,
    GROVE_AGENT: readAddress(options.agentAddressFile),
    GROVE_AGENT_ADDRESS_FILE: options.agentAddressFile,
    GROVE_CLI,
  };
  writeFileSync(env.GROVE_PROMPT_FILE!, task.prompt);
  if (options.claudeHooks) writeFileSync(join(task.runDir, HOOKS_FILE_NAME), claudeHookSettings([process.execPath, GROVE_CLI]));
  const tty = task.tty ? { cols: task.cols, rows: task.rows } : undefined;
  const spec = { argv: task.argv, cwd: task.cwd, env, logCapBytes: options.logCapBytes, tty };
  writeFileSync(join(task.runDir, 'spec.json'), JSON.stringify(spec), { mode: 0o600 });
  return secret;
}
