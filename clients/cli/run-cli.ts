import type { CliIo } from './cli-io.js';
import type { Command } from './command.js';
import { COMMANDS } from './command-table.js';
import { ExitError } from './exit-error.js';
import { EXIT_CALL_FAILED, EXIT_OK, EXIT_USAGE } from './exit-status.js';
import { commandHelp, groupHelp, overviewHelp } from './help.js';
import { UsageError } from './usage-error.js';
import { hoistGlobalFlags } from './args.js';
import { terminalSafe } from './output/terminal-safe.js';

interface Resolved {
  command: Command;
  rest: string[];
}

/** Finds the verb named by the leading words, or explains what exists instead. */
function resolveCommand(words: readonly string[]): Resolved {
  const [first, second] = words;
  const group = COMMANDS.filter((c) => c.path[0] === first);
  if (group.length === 0) throw new UsageError(`unknown verb "${first}"; run 'grove help' for the list`);
  const command = group.find((c) => c.path.length === 1 || c.path[1] === second);
  if (!command) {
    const verbs = group.map((c) => c.path[1]).join(', ');
    throw new UsageError(
      second === undefined || second.startsWith('-')
        ? `${first} needs a verb: ${verbs}`
        : `unknown verb "${first} ${second}"; ${first} has: ${verbs}`,
    );
  }
  return { command, rest: words.slice(command.path.length) };
}

/** `--help` or `-h` among a verb's own arguments (not after `--`). */
function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

async function help(topic: readonly string[]): Promise<string> {
  const [first, second] = topic;
  if (first === undefined) return overviewHelp(COMMANDS);
  const group = COMMANDS.filter((c) => c.path[0] === first);
  if (second === undefined && group.length > 0 && group.every((c) => c.path.length > 1)) {
    return groupHelp(first, group);
  }
  return commandHelp(resolveCommand(topic).command);
}

// parseArgs reports bad flags as TypeErrors with these codes.
function isParseArgsError(err: unknown): err is Error {
  return err instanceof Error && String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS');
}

/** The one stderr line a failure is reported as, and the exit status that goes with it. */
function describeFailure(err: unknown): { line: string; status: number } {
  const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
  // A serve verb's bad flags say so with `usage` (the services' own StartupError).
  const usage = err instanceof Error && (err as { usage?: unknown }).usage === true;
  if (err instanceof UsageError || isParseArgsError(err) || usage) {
    return { line: `grove: ${oneLine(err.message)}`, status: EXIT_USAGE };
  }
  if (err instanceof ExitError) return { line: `grove: ${oneLine(err.message)}`, status: err.status };
  // GroveClientError messages already read `CODE (REASON): details`.
  const message = err instanceof Error ? err.message : String(err);
  return { line: `grove: ${oneLine(message)}`, status: EXIT_CALL_FAILED };
}

/**
 * Runs one command line and answers the exit status. Failures are reported as one line on
 * stderr, never a stack trace. Serve verbs resolve once serving and keep the process alive.
 */
export async function runCli(given: readonly string[], rawIo: CliIo): Promise<number> {
  const io: CliIo = {
    ...rawIo,
    out: (text) => rawIo.out(terminalSafe(text)),
    err: (text) => rawIo.err(terminalSafe(text)),
  };
  try {
    const argv = hoistGlobalFlags(given);
    const [first] = argv;
    if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
      io.out(await help(first === 'help' ? argv.slice(1) : []));
      return EXIT_OK;
    }
    const { command, rest } = resolveCommand(first === '--version' ? ['version', ...argv.slice(1)] : argv);
    if (asksForHelp(rest)) {
      io.out(await commandHelp(command));
      return EXIT_OK;
    }
    await command.run(rest, io);
    return EXIT_OK;
  } catch (err) {
    const { line, status } = describeFailure(err);
    io.err(`${line}\n`);
    return status;
  }
}
