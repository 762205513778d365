/**
 * Agent profiles: how to run one coding agent, as data. Built-ins cover Claude Code, Codex,
 * Aider, Gemini CLI and a plain shell; a user's own come from the agent's --profiles file.
 * Pure: validation and the argv a run gets, no I/O.
 */
export type ActivityHooks = 'none' | 'signal' | 'claude-hooks';

export interface ProfileSpec {
  name: string;
  description: string;
  /** "builtin" or the file it came from. */
  source: string;
  command: string;
  /** Arguments for a terminal run; a prompt, if any, follows as `promptArgs`. */
  interactiveArgs: string[];
  promptArgs: string[];
  /** Arguments for a run without a terminal; it needs a prompt. */
  oneShotArgs: string[];
  /** Arguments that continue the last conversation in the worktree, placed first. */
  continueArgs: string[];
  env: Record<string, string>;
  requiredEnv: string[];
  activityHooks: ActivityHooks;
}

export const PROMPT = '{prompt}';
/** Replaced by the path of a settings file Grove writes into the task's run directory. */
export const HOOKS_FILE = '{hooks}';

const builtin = (spec: Omit<ProfileSpec, 'source' | 'env' | 'requiredEnv'> & Partial<ProfileSpec>): ProfileSpec => ({
  source: 'builtin',
  env: {},
  requiredEnv: [],
  ...spec,
});

export const BUILTIN_PROFILES: readonly ProfileSpec[] = [
  builtin({
    name: 'claude',
    description: 'Claude Code; its Notification and Stop hooks report activity through `grove signal`',
    command: 'claude',
    interactiveArgs: ['--settings', HOOKS_FILE],
    promptArgs: [PROMPT],
    oneShotArgs: ['--settings', HOOKS_FILE, '-p', PROMPT],
    continueArgs: ['--continue'],
    activityHooks: 'claude-hooks',
  }),
  builtin({
    name: 'codex',
    description: 'OpenAI Codex CLI',
    command: 'codex',
    interactiveArgs: [],
    promptArgs: [PROMPT],
    oneShotArgs: ['exec', PROMPT],
    continueArgs: ['resume', '--last'],
    activityHooks: 'none',
  }),
  builtin({
    name: 'aider',
    description: 'Aider',
    command: 'aider',
    interactiveArgs: [],
    promptArgs: ['--message', PROMPT],
    oneShotArgs: ['--yes-always', '--message', PROMPT],
    continueArgs: ['--restore-chat-history'],
    activityHooks: 'none',
  }),
  builtin({
    name: 'gemini',
    description: 'Gemini CLI',
    command: 'gemini',
    interactiveArgs: [],
    promptArgs: ['--prompt-interactive', PROMPT],
    oneShotArgs: ['--prompt', PROMPT],
    continueArgs: ['--resume', 'latest'],
    activityHooks: 'none',
  }),
  builtin({
    name: 'shell',
    description: 'A plain interactive shell in the worktree (/bin/sh)',
    command: '/bin/sh',
    interactiveArgs: ['-i'],
    promptArgs: [],
    oneShotArgs: ['-c', PROMPT],
    continueArgs: [],
    activityHooks: 'none',
  }),
];

const NAME = /^[a-z][a-z0-9-]{0,39}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;
const HOOKS: readonly ActivityHooks[] = ['none', 'signal', 'claude-hooks'];
const MAX_PROFILES = 100;

function stringList(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.includes('\0') || v.length > 4096)) {
    throw new Error(`${where} must be a list of strings`);
  }
  return value as string[];
}

/**
 * The profiles of a user's file, `{"profiles": [...]}`, checked whole: a bad file is refused
 * with what is wrong, never half loaded. A user profile may replace a built-in of its name.
 */
export function parseProfiles(text: string, source: string): ProfileSpec[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const list = (doc as { profiles?: unknown } | null)?.profiles;
  if (!Array.isArray(list)) throw new Error(`${source} must be an object with a "profiles" list`);
  if (list.length > MAX_PROFILES) throw new Error(`${source} has over ${MAX_PROFILES} profiles`);
  const seen = new Set<string>();
  return list.map((entry: unknown, i) => {
    const where = `${source}: profile ${i + 1}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new Error(`${where} must be an object`);
    const raw = entry as Record<string, unknown>;
    const known = [
      'name',
      'description',
      'command',
      'interactiveArgs',
      'promptArgs',
      'oneShotArgs',
      'continueArgs',
      'env',
      'requiredEnv',
      'activityHooks',
    ];
    const unknown = Object.keys(raw).filter((k) => !known.includes(k));
    if (unknown.length > 0) throw new Error(`${where} has unknown field(s) ${unknown.join(', ')}`);
    if (typeof raw.name !== 'string' || !NAME.test(raw.name))
      throw new Error(`${where} needs a name of lowercase letters, digits and dashes`);
    if (seen.has(raw.name)) throw new Error(`${where}: "${raw.name}" is defined twice`);
    seen.add(raw.name);
    if (typeof raw.command !== 'string' || !raw.command || raw.command.includes('\0'))
      throw new Error(`${where} ("${raw.name}") needs a command`);
    const env = raw.env ?? {};
    if (typeof env !== 'object' || env === null || Array.isArray(env)) throw new Error(`${where}: env must be an object of strings`);
    for (const [key, value] of Object.entries(env)) {
      if (!ENV_KEY.test(key) || typeof value !== 'string' || value.includes('\0')) throw new Error(`${where}: env ${key} is not valid`);
      if (key.startsWith('GROVE_')) throw new Error(`${where}: env may not set ${key} (GROVE_ variables are Grove's)`);
    }
    const requiredEnv = stringList(raw.requiredEnv, `${where}: requiredEnv`);
    for (const key of requiredEnv) if (!ENV_KEY.test(key)) throw new Error(`${where}: requiredEnv ${key} is not a variable name`);
    const hooks = raw.activityHooks ?? 'none';
    if (!HOOKS.includes(hooks as ActivityHooks)) throw new Error(`${where}: activityHooks must be one of ${HOOKS.join(', ')}`);
    if (raw.description !== undefined && typeof raw.description !== 'string') throw new Error(`${where}: description must be a string`);
    return {
      name: raw.name,
      description: (raw.description as string | undefined) ?? '',
      source,
      command: raw.command,
      interactiveArgs: stringList(raw.interactiveArgs, `${where}: interactiveArgs`),
      promptArgs: stringList(raw.promptArgs, `${where}: promptArgs`),
      oneShotArgs: stringList(raw.oneShotArgs, `${where}: oneShotArgs`),
      continueArgs: stringList(raw.continueArgs, `${where}: continueArgs`),
      env: env as Record<string, string>,
      requiredEnv,
      activityHooks: hooks as ActivityHooks,
    };
  });
}

/** Built-ins, then the user's: a user profile of a built-in's name replaces it. */
export function mergeProfiles(user: readonly ProfileSpec[]): ProfileSpec[] {
  const byName = new Map(BUILTIN_PROFILES.map((p) => [p.name, p]));
  for (const profile of user) byName.set(profile.name, profile);
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export interface ProfileRun {
  prompt: string;
  tty: boolean;
  continueConversation: boolean;
}

/** The argv of a run, or a problem in words (a one-shot run needs a prompt). */
export function profileArgv(profile: ProfileSpec, run: ProfileRun, hooksFile: string): string[] | { problem: string } {
  let args: string[];
  if (run.tty) args = [...profile.interactiveArgs, ...(run.prompt ? profile.promptArgs : [])];
  else if (!run.prompt) return { problem: `profile ${profile.name} needs --prompt to run without a terminal (or use --tty)` };
  else args = profile.oneShotArgs;
  if (run.continueConversation) {
    if (profile.continueArgs.length === 0) return { problem: `profile ${profile.name} has no way to continue a conversation` };
    args = [...profile.continueArgs, ...args];
  }
  // One pass, so a prompt that happens to contain "{hooks}" stays as written.
  const fill = (arg: string) => arg.replace(/\{prompt\}|\{hooks\}/g, (field) => (field === PROMPT ? run.prompt : hooksFile));
  return [profile.command, ...args.map(fill)];
}

const shellQuote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;

/**
 * Claude Code settings whose hooks report activity with `grove signal`, given the argv that
 * runs the grove CLI. Written to the task's run directory and passed with --settings: never
 * into the worktree, which would make it dirty.
 */
export function claudeHookSettings(groveArgv: readonly string[]): string {
  const grove = groveArgv.map(shellQuote).join(' ');
  const hook = (activity: string) => [{ hooks: [{ type: 'command', command: `${grove} signal ${activity}` }] }];
  return JSON.stringify({ hooks: { Notification: hook('needs-input'), Stop: hook('idle'), UserPromptSubmit: hook('working') } }, null, 2);
}
