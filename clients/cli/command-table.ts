import type { Command } from './command.js';
import { agentsCommands } from './commands/agents.js';
import { repoCommands } from './commands/repo.js';
import { serveCommands } from './commands/serve.js';
import { versionCommands } from './commands/version.js';
import { watchCommands } from './commands/watch.js';

/** Every verb, in the order `grove help` lists them. A new verb group adds one line here. */
export const COMMANDS: readonly Command[] = [
  ...serveCommands,
  ...repoCommands,
  ...agentsCommands,
  ...watchCommands,
  ...versionCommands,
];
