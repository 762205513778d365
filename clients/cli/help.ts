import { GLOBAL_FLAGS_HELP } from './args.js';
import type { Command } from './command.js';
import { formatTable } from './output/table.js';

/** `grove help`: every verb with its one-line summary, then the flags they share. */
export function overviewHelp(commands: readonly Command[]): string {
  const verbs = formatTable([...commands.map((c) => [`  ${c.synopsis}`, c.summary]), ['  help [VERB]', 'show help for a verb']]);
  return `grove: run coding agents on git worktrees across machines

Usage: grove VERB [ARGS] [FLAGS]

Verbs:
${verbs}
Flags (after the verb):
${GLOBAL_FLAGS_HELP}

Exit status: 0 success, 1 a call failed (or the job waited for failed), 2 the command line
is wrong, 3 refused to protect work (session kill), 130 what was waited for was stopped;
task run --wait exits with the task's own exit code.
`;
}

/** A verb's help: how to call it, what it does, its own options, then the shared flags. */
export function verbUsage(synopsis: string, description: string, options?: string): string {
  const own = options ? `\nOptions:\n${options}\n` : '';
  return `Usage: grove ${synopsis} [FLAGS]\n\n${description}\n${own}\nFlags:\n${GLOBAL_FLAGS_HELP}\n`;
}

/** `grove help repo`: the verbs of one group. */
export function groupHelp(group: string, commands: readonly Command[]): string {
  const verbs = formatTable(commands.map((c) => [`  ${c.synopsis}`, c.summary]));
  return `Usage: grove ${group} VERB [ARGS] [FLAGS]

Verbs:
${verbs}`;
}

export async function commandHelp(command: Command): Promise<string> {
  const usage = typeof command.usage === 'string' ? command.usage : await command.usage();
  return `${usage.trimEnd()}\n`;
}
