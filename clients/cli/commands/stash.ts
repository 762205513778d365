import { ApplyStashResponse, DropStashResponse, ListStashesResponse } from '@grove/sdk/proto/agent/v1/agent_service.js';
import { parseVerbArgs, expectPositionals, ROUTE_FLAG_HELP, ROUTE_OPTIONS } from '../args.js';
import { onAgent, requireAgentWhenRouted, withCaller } from '../caller.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { verbUsage } from '../help.js';
import { repoNames } from '../names.js';
import { formatTime, shortCommit } from '../output/format.js';
import { formatJsonLine } from '../output/json.js';
import { formatTable } from '../output/table.js';
import { UsageError } from '../usage-error.js';

const ls: Command = {
  path: ['stash', 'ls'],
  synopsis: 'stash ls [REPO]',
  summary: 'list grove stashes (changes set aside when sync started on a dirty checkout)',
  usage: verbUsage(
    'stash ls [REPO]',
    `Lists grove stashes, of one repo or all. REF MISSING "yes" means the ref was deleted by hand
(or moved): the stash still applies from its recorded commit while git keeps it.`,
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    if (positionals.length > 1) throw new UsageError(`stash ls: unexpected argument "${positionals[1]}"`);
    const [repoId = ''] = positionals;
    if (!repoId) requireAgentWhenRouted('stash ls', values, 'stashes without a REPO');
    const { response, names } = await withCaller(values, io, async (caller) => {
      const reply = await caller.call('listStashes', { repoId });
      return { response: reply.response, names: values.json ? undefined : await repoNames(caller, reply.agent) };
    });
    if (values.json || !names) return io.outExact(formatJsonLine(ListStashesResponse.toJSON(response)));
    if (response.stashes.length === 0) return io.err('no stashes\n');
    io.out(
      formatTable([
        ['ID', 'REPO', 'REF', 'COMMIT', 'REF MISSING', 'CREATED'],
        ...response.stashes.map((s) => [
          s.id,
          names(s.repoId),
          s.ref,
          shortCommit(s.commit),
          s.refMissing ? 'yes' : 'no',
          formatTime(s.createTime),
        ]),
      ]),
    );
  },
};

const apply: Command = {
  path: ['stash', 'apply'],
  synopsis: 'stash apply ID',
  summary: 'apply a grove stash to its clean checkout (the stash is kept)',
  usage: verbUsage(
    'stash apply ID',
    `Applies the stash (tracked, staged and untracked) to the checkout it was taken from, which
must be clean and at the commit it was taken on. The stash is kept: 'grove stash drop ID'.
With --coordinator, say which agent with --on (stash ids are not projected).`,
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    const [id] = expectPositionals('stash apply', positionals, ['ID']);
    const { response, agent } = await withCaller(values, io, (caller) => caller.call('applyStash', { id }));
    if (values.json) return io.outExact(formatJsonLine(ApplyStashResponse.toJSON(response)));
    io.out(`applied stash ${id}${onAgent(agent)}; it is kept until 'grove stash drop ${id}'\n`);
  },
};

const drop: Command = {
  path: ['stash', 'drop'],
  synopsis: 'stash drop ID',
  summary: 'delete a grove stash',
  usage: verbUsage('stash drop ID', 'Deletes the stash and its ref. With --coordinator, say which agent with --on.', ROUTE_FLAG_HELP),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    const [id] = expectPositionals('stash drop', positionals, ['ID']);
    const { response, agent } = await withCaller(values, io, (caller) => caller.call('dropStash', { id }));
    if (values.json) return io.outExact(formatJsonLine(DropStashResponse.toJSON(response)));
    io.out(`dropped stash ${id}${onAgent(agent)}\n`);
  },
};

export const stashCommands: readonly Command[] = [ls, apply, drop];
