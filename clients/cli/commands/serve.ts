import type { Command } from '../command.js';

// The services are imported on demand: loading one (ORM, SQLite) would slow every other verb.
// They own their flags, so these verbs hand the rest of the command line on untouched.
const agentMain = () => import('../../../services/agent/main.js');
const coordinatorMain = () => import('../../../services/coordinator/main.js');

const agentServe: Command = {
  path: ['agent', 'serve'],
  synopsis: 'agent serve [options]',
  summary: 'run the agent of this machine (until SIGTERM/SIGINT)',
  usage: async () => `Usage: ${(await agentMain()).AGENT_SERVE_USAGE}`,
  run: async (args) => (await agentMain()).serveAgent(args),
};

const coordinatorServe: Command = {
  path: ['coordinator', 'serve'],
  synopsis: 'coordinator serve [options]',
  summary: 'run a coordinator for a team of agents (until SIGTERM/SIGINT)',
  usage: async () => `Usage: ${(await coordinatorMain()).COORDINATOR_SERVE_USAGE}`,
  run: async (args) => (await coordinatorMain()).serveCoordinator(args),
};

export const serveCommands: readonly Command[] = [agentServe, coordinatorServe];
