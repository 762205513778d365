import { ApplyPreservedResponse, DropPreservedResponse, ListPreservedResponse } from '@grove/sdk/proto/agent/v1/agent_service.js';
import { expectPositionals, parseVerbArgs, ROUTE_FLAG_HELP, ROUTE_OPTIONS } from '../args.js';
import { onAgent, requireAgentWhenRouted, withCaller } from '../caller.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { verbUsage } from '../help.js';
import { repoNames } from '../names.js';
import { shortCommit } from '../output/format.js';
import { formatJsonLine } from '../output/json.js';
import { formatTable } from '../output/table.js';
import { UsageError } from '../usage-error.js';

const ls: Command = {
  path: ['preserved', 'ls'],
  synopsis: 'preserved ls [SESSION]',
  summary: 'list work preserved by cleanup (of one session, or all)',
  usage: verbUsage(
    'preserved ls [SESSION]',
    `Lists preserved work: the refs cleanup wrote for dirty worktrees, plus any such ref found
in git that no session records (nothing is hidden).`,
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    if (positionals.length > 1) throw new UsageError(`preserved ls: unexpected argument "${positionals[1]}"`);
    const [sessionId = ''] = positionals;
    if (!sessionId) requireAgentWhenRouted('preserved ls', values, 'preserved refs without a SESSION');
    const { response, names } = await withCaller(values, io, async (caller) => {
      const { response, agent } = await caller.call('listPreserved', { sessionId });
      return { response, names: values.json ? undefined : await repoNames(caller, agent) };
    });
    if (values.json || !names) return io.outExact(formatJsonLine(ListPreservedResponse.toJSON(response)));
    if (response.preserved.length === 0) return io.err('nothing preserved\n');
    io.out(
      formatTable([
        ['SESSION', 'REPO', 'REF', 'COMMIT'],
        ...response.preserved.map((p) => [p.sessionId, names(p.repoId), p.ref, shortCommit(p.commit)]),
      ]),
    );
  },
};

const apply: Command = {
  path: ['preserved', 'apply'],
  synopsis: 'preserved apply SESSION REPO',
  summary: "put a repo's preserved work back into its restored worktree",
  usage: verbUsage(
    'preserved apply SESSION REPO',
    `Applies the work preserved for REPO (name or id) to the session's worktree, tracked and
untracked files alike. The worktree must be restored, clean, and at the commit the work
was preserved on. The ref is kept until 'grove preserved drop'.`,
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    const [sessionId, repoId] = expectPositionals('preserved apply', positionals, ['SESSION', 'REPO']);
    const { response, agent } = await withCaller(values, io, (caller) => caller.call('applyPreserved', { sessionId, repoId }), {
      long: true,
    });
    if (values.json) return io.outExact(formatJsonLine(ApplyPreservedResponse.toJSON(response)));
    const worktree = response.session?.worktrees.find((w) => w.repoId === repoId || w.repoName === repoId);
    io.out(`applied the preserved work of ${worktree?.repoName ?? repoId} to ${worktree?.path ?? sessionId}${onAgent(agent)}\n`);
  },
};

const drop: Command = {
  path: ['preserved', 'drop'],
  synopsis: 'preserved drop SESSION REPO',
  summary: "discard a repo's preserved work (deletes the ref)",
  usage: verbUsage(
    'preserved drop SESSION REPO',
    "Deletes the ref holding REPO's preserved work in the session: the explicit discard.",
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    const [sessionId, repoId] = expectPositionals('preserved drop', positionals, ['SESSION', 'REPO']);
    const { response, agent } = await withCaller(values, io, (caller) => caller.call('dropPreserved', { sessionId, repoId }));
    if (values.json) return io.outExact(formatJsonLine(DropPreservedResponse.toJSON(response)));
    io.out(`dropped the preserved work of ${repoId} in session ${sessionId}${onAgent(agent)}\n`);
  },
};

export const preservedCommands: readonly Command[] = [ls, apply, drop];
