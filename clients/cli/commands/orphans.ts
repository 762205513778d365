import { ListOrphansResponse, PruneOrphansResponse } from '@grove/sdk/proto/agent/v1/agent_service.js';
import { orphan_KindToJSON, type Orphan } from '@grove/sdk/proto/agent/v1/resources.js';
import { expectPositionals, parseVerbArgs, ROUTE_FLAG_HELP, ROUTE_OPTIONS } from '../args.js';
import { requireAgentWhenRouted, withCaller } from '../caller.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { verbUsage } from '../help.js';
import { enumLabel, orDash } from '../output/format.js';
import { formatJsonLine } from '../output/json.js';
import { formatTable } from '../output/table.js';

const orphanRow = (orphan: Orphan) => [enumLabel(orphan_KindToJSON(orphan.kind), 'KIND_'), orphan.path, orDash(orphan.repoId)];

const ls: Command = {
  path: ['orphans', 'ls'],
  synopsis: 'orphans ls',
  summary: 'list worktree directories and git worktree entries no session owns',
  usage: verbUsage(
    'orphans ls',
    `Lists what no session owns: DIRECTORY, a directory under the worktree root; STALE_WORKTREE,
a 'git worktree list' entry whose directory is gone. Nothing is deleted.`,
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    expectPositionals('orphans ls', positionals, []);
    requireAgentWhenRouted('orphans ls', values, 'orphans');
    const { response } = await withCaller(values, io, (caller) => caller.call('listOrphans', {}));
    if (values.json) return io.outExact(formatJsonLine(ListOrphansResponse.toJSON(response)));
    if (response.orphans.length === 0) return io.err('no orphans\n');
    io.out(formatTable([['KIND', 'PATH', 'REPO'], ...response.orphans.map(orphanRow)]));
  },
};

const prune: Command = {
  path: ['orphans', 'prune'],
  synopsis: 'orphans prune',
  summary: 'prune stale git worktree entries (directories are left to you)',
  usage: verbUsage(
    'orphans prune',
    `Prunes the STALE_WORKTREE orphans: 'git worktree list' entries whose directory is gone.
DIRECTORY orphans may hold someone's work, so they are never deleted: inspect and remove
them yourself.`,
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    expectPositionals('orphans prune', positionals, []);
    requireAgentWhenRouted('orphans prune', values, 'orphans');
    const { response } = await withCaller(values, io, (caller) => caller.call('pruneOrphans', {}));
    if (values.json) return io.outExact(formatJsonLine(PruneOrphansResponse.toJSON(response)));
    if (response.pruned.length === 0) return io.err('nothing to prune\n');
    io.out(formatTable([['PRUNED', 'PATH', 'REPO'], ...response.pruned.map(orphanRow)]));
  },
};

export const orphansCommands: readonly Command[] = [ls, prune];
