import type { Command } from './command.js';
import { agentsCommands } from './commands/agents.js';
import { groupCommands } from './commands/group.js';
import { jobCommands } from './commands/job.js';
import { lockCommands } from './commands/lock.js';
import { orphansCommands } from './commands/orphans.js';
import { preservedCommands } from './commands/preserved.js';
import { repoCommands } from './commands/repo.js';
import { reviewCommands } from './commands/review.js';
import { serveCommands } from './commands/serve.js';
import { sessionCommands } from './commands/session.js';
import { stashCommands } from './commands/stash.js';
import { syncCommands } from './commands/sync.js';
import { taskCommands } from './commands/task.js';
import { terminalCommands } from './commands/terminal.js';
import { versionCommands } from './commands/version.js';
import { watchCommands } from './commands/watch.js';

/** Every verb, in the order `grove help` lists them. A new verb group adds one line here. */
export const COMMANDS: readonly Command[] = [
  ...serveCommands,
  ...repoCommands,
  ...sessionCommands,
  ...reviewCommands,
  ...preservedCommands,
  ...orphansCommands,
  ...taskCommands,
  ...terminalCommands,
  ...jobCommands,
  ...groupCommands,
  ...syncCommands,
  ...stashCommands,
  ...lockCommands,
  ...agentsCommands,
  ...watchCommands,
  ...versionCommands,
];
