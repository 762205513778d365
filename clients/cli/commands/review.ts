import {
  CommitSessionResponse,
  DiffSessionResponse,
  FileChangeStatus,
  LandSessionResponse,
  LandStrategy,
  type RepoDiff,
} from '@grove/sdk/proto/agent/v1/agent_service.js';
import { expectPositionals, parseVerbArgs, ROUTE_FLAG_HELP, ROUTE_OPTIONS } from '../args.js';
import { onAgent, withCaller } from '../caller.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { verbUsage } from '../help.js';
import { followJob } from './job.js';
import { formatJsonLine } from '../output/json.js';
import { formatTable } from '../output/table.js';
import { UsageError } from '../usage-error.js';

const STATUS_LABEL: Record<number, string> = {
  [FileChangeStatus.FILE_CHANGE_STATUS_ADDED]: 'added',
  [FileChangeStatus.FILE_CHANGE_STATUS_MODIFIED]: 'modified',
  [FileChangeStatus.FILE_CHANGE_STATUS_DELETED]: 'deleted',
  [FileChangeStatus.FILE_CHANGE_STATUS_RENAMED]: 'renamed',
  [FileChangeStatus.FILE_CHANGE_STATUS_TYPE_CHANGED]: 'type changed',
  [FileChangeStatus.FILE_CHANGE_STATUS_UNTRACKED]: 'untracked',
};

const mib = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;

function repoHeading(repo: RepoDiff): string {
  const commits = repo.commits.length === 1 ? '1 commit' : `${repo.commits.length} commits`;
  return `# repo ${repo.repoName}: ${commits} since ${repo.base} (${repo.mergeBase.slice(0, 12)})\n`;
}

function statTable(repo: RepoDiff): string {
  if (repo.files.length === 0) return 'no changes\n';
  const rows = repo.files.map((f) => [
    STATUS_LABEL[f.status] ?? '?',
    f.binary ? 'bin' : `+${f.additions}`,
    f.binary ? '' : `-${f.deletions}`,
    f.uncommitted ? 'uncommitted' : 'committed',
    f.oldPath ? `${f.oldPath} -> ${f.path}` : f.path,
  ]);
  const added = repo.files.reduce((sum, f) => sum + f.additions, 0);
  const deleted = repo.files.reduce((sum, f) => sum + f.deletions, 0);
  const more = repo.filesTotal > repo.files.length ? ` (the first ${repo.files.length} listed)` : '';
  return `${formatTable([['STATUS', 'ADDED', 'DELETED', 'WHERE', 'PATH'], ...rows])}${repo.filesTotal} file(s) changed${more}, +${added} -${deleted}\n`;
}

const diff: Command = {
  path: ['session', 'diff'],
  synopsis: 'session diff ID [--repo R] [--stat | --name-only]',
  summary: 'what a session changed since it branched off: commits and uncommitted work',
  usage: verbUsage(
    'session diff ID [--repo R] [--stat | --name-only]',
    `Shows, per repo of the session, what it changed against the point it branched from (the
merge-base with its base branch): its commits and the worktree as it is now, staged, unstaged
and untracked files alike; binary files are named as such. Nothing is written. A patch over
4 MiB is left out with a note: --stat still lists every file. With --json: per repo its
commits and, per file, status, additions, deletions, binary and whether it is committed.`,
    `  --repo R     only this repo of the session (name or id)
  --stat       a table per repo: status, lines added and deleted, committed or not, path
  --name-only  the changed paths only
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {
      ...ROUTE_OPTIONS,
      repo: { type: 'string' },
      stat: { type: 'boolean', default: false },
      'name-only': { type: 'boolean', default: false },
    });
    const [sessionId] = expectPositionals('session diff', positionals, ['ID']);
    if (values.stat && values['name-only']) throw new UsageError('session diff: --stat and --name-only do not go together');
    const statOnly = values.stat || values['name-only'] || false;
    const { response } = await withCaller(values, io, (caller) =>
      caller.call('diffSession', { sessionId, repo: values.repo ?? '', statOnly: values.json ? false : statOnly }),
    );
    if (values.json) return io.outExact(formatJsonLine(DiffSessionResponse.toJSON(response)));
    const several = response.repos.length > 1;
    for (const repo of response.repos) {
      if (values['name-only']) {
        if (several) io.out(`# repo ${repo.repoName}\n`);
        for (const file of repo.files) io.out(`${file.path}\n`);
        continue;
      }
      io.out(repoHeading(repo));
      if (values.stat) {
        io.out(statTable(repo));
        continue;
      }
      if (repo.patchOmitted) {
        io.err(
          `grove: the diff of repo ${repo.repoName} is ${mib(repo.patchBytes)}, over the 4 MiB cap; its files are below (--stat); see the patch with git in ${repo.repoName}'s worktree\n`,
        );
        io.out(statTable(repo));
        continue;
      }
      io.outExact(repo.patch);
    }
  },
};

const commit: Command = {
  path: ['session', 'commit'],
  synopsis: 'session commit ID -m MESSAGE [--repo R]',
  summary: "commit all of a session's changes, untracked included, in each repo that has any",
  usage: verbUsage(
    'session commit ID -m MESSAGE [--repo R]',
    `Commits every change in the session's worktrees (tracked, staged and untracked; ignored files
stay out) with MESSAGE, one commit per repo that has changes; clean repos are left alone.
Refused while a task of the session runs. The repo's hooks run as for any commit.`,
    `  -m, --message MESSAGE   the commit message (required)
  --repo R                only this repo of the session (name or id)
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {
      ...ROUTE_OPTIONS,
      message: { type: 'string', short: 'm' },
      repo: { type: 'string' },
    });
    const [sessionId] = expectPositionals('session commit', positionals, ['ID']);
    if (!values.message) throw new UsageError('session commit: give a message with -m MESSAGE');
    const { response, agent } = await withCaller(values, io, (caller) =>
      caller.call('commitSession', { sessionId, message: values.message!, repo: values.repo ?? '' }),
    );
    if (values.json) return io.outExact(formatJsonLine(CommitSessionResponse.toJSON(response)));
    if (response.commits.length === 0) return io.out(`nothing to commit in session ${sessionId}${onAgent(agent)}\n`);
    io.out(formatTable([['REPO', 'COMMIT'], ...response.commits.map((c) => [c.repoName, c.sha.slice(0, 12)])]));
  },
};

const STRATEGY_FLAG: Record<string, LandStrategy> = {
  merge: LandStrategy.LAND_STRATEGY_MERGE,
  squash: LandStrategy.LAND_STRATEGY_SQUASH,
  rebase: LandStrategy.LAND_STRATEGY_REBASE,
};

const land: Command = {
  path: ['session', 'land'],
  synopsis: 'session land ID [--into BRANCH] [--strategy merge|squash|rebase] [--push] [--wait]',
  summary: "bring a session's branch into its target branch in every repo, all or nothing",
  usage: verbUsage(
    'session land ID [--into BRANCH] [--strategy merge|squash|rebase] [--push] [--wait]',
    `Queues a land_session job and prints its id. In each repo the session's branch is integrated
into the target (--into, default: the repo's default branch) in a scratch worktree of its own,
so your checkout and its index are never used for it. A conflict in any repo moves no target
in any repo and names the conflicting paths. Then every target moves with a compare-and-swap,
so a push meanwhile fails the land instead of being overwritten. A checkout that has the
target checked out is brought along when clean, and makes the land refuse (before anything
moves) when it has changes in the paths the land touches. Refused while the session has
uncommitted work (grove session commit) or a running task. The session records what landed
where (grove session get). With --wait: shows the job until it ends (exit 0 only if it landed).`,
    `  --into BRANCH   the branch to land into in every repo (default: each repo's default branch)
  --strategy S    merge (default; fast-forward when possible), squash (one commit), or rebase
                  (the session's commits replayed onto the target)
  --push          push each landed target branch to its repo's remote
  --wait          follow the job until it ends
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {
      ...ROUTE_OPTIONS,
      into: { type: 'string' },
      strategy: { type: 'string' },
      push: { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
    });
    const [sessionId] = expectPositionals('session land', positionals, ['ID']);
    const strategy = values.strategy === undefined ? LandStrategy.LAND_STRATEGY_MERGE : STRATEGY_FLAG[values.strategy];
    if (strategy === undefined) throw new UsageError(`session land: --strategy is merge, squash or rebase, not "${values.strategy}"`);
    const { response, agent } = await withCaller(values, io, (caller) =>
      caller.call('landSession', { sessionId, into: values.into ?? '', strategy, push: values.push ?? false, idempotencyKey: '' }),
    );
    const job = response.job!;
    if (!values.wait) {
      if (values.json) return io.outExact(formatJsonLine(LandSessionResponse.toJSON(response)));
      return io.out(`${job.id}\n`);
    }
    if (!values.json) io.err(`landing session ${sessionId}${onAgent(agent)} in job ${job.id}\n`);
    await followJob(values, io, job.id);
  },
};

export const reviewCommands: readonly Command[] = [diff, commit, land];
