import { resolve } from 'node:path';
import { ListLocksResponse, ReleaseLockResponse } from '@grove/sdk/proto/agent/v1/agent_service.js';
import { expectPositionals, parseVerbArgs, ROUTE_FLAG_HELP, ROUTE_OPTIONS } from '../args.js';
import { onAgent, requireAgentWhenRouted, withCaller } from '../caller.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { verbUsage } from '../help.js';
import { formatAge } from '../output/format.js';
import { formatJsonLine } from '../output/json.js';
import { formatTable } from '../output/table.js';

const ls: Command = {
  path: ['lock', 'ls'],
  synopsis: 'lock ls',
  summary: 'list the directory locks the agent holds for tasks',
  usage: verbUsage(
    'lock ls',
    `Lists directory locks: which process (pid) holds each directory, for what, since when. A
lock whose process is gone is released by the agent as soon as it probes it.`,
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    expectPositionals('lock ls', positionals, []);
    requireAgentWhenRouted('lock ls', values, 'locks');
    const { response } = await withCaller(values, io, (caller) => caller.call('listLocks', {}));
    if (values.json) return io.outExact(formatJsonLine(ListLocksResponse.toJSON(response)));
    if (response.locks.length === 0) return io.err('no locks\n');
    const now = new Date();
    io.out(
      formatTable([
        ['DIRECTORY', 'PID', 'OWNER', 'LOCKED'],
        ...response.locks.map((lock) => [lock.directory, String(lock.pid), lock.owner, formatAge(lock.lockTime, now)]),
      ]),
    );
  },
};

const release: Command = {
  path: ['lock', 'release'],
  synopsis: 'lock release DIR [--force]',
  summary: 'release a directory lock (refused while its holder lives, unless --force)',
  usage: verbUsage(
    'lock release DIR [--force]',
    `Releases the lock on DIR (relative to the current directory). Refused while the process
holding it is alive, unless --force: a person's override, which the agent logs.`,
    `  --force      release even though the holder is alive
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, { ...ROUTE_OPTIONS, force: { type: 'boolean', default: false } });
    const [dir] = expectPositionals('lock release', positionals, ['DIR']);
    // Locks are recorded by absolute path; the agent may run with another cwd.
    const directory = resolve(io.cwd, dir);
    const { response, agent } = await withCaller(values, io, (caller) => caller.call('releaseLock', { directory, force: values.force }));
    if (values.json) return io.outExact(formatJsonLine(ReleaseLockResponse.toJSON(response)));
    io.out(response.released ? `released the lock on ${directory}${onAgent(agent)}\n` : `no lock on ${directory}\n`);
  },
};

export const lockCommands: readonly Command[] = [ls, release];
