import { resolve } from 'node:path';
import { AddRepoResponse, ListReposResponse, RemoveRepoResponse, UpdateRepoResponse } from '@grove/sdk/proto/agent/v1/agent_service.js';
import { Repo } from '@grove/sdk/proto/agent/v1/resources.js';
import type { AgentClient } from '@grove/sdk';
import { expectPositionals, parseVerbArgs } from '../args.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { withAgent, withCoordinator } from '../connect.js';
import { verbUsage } from '../help.js';
import { formatTime } from '../output/format.js';
import { formatJsonLine } from '../output/json.js';
import { formatTable } from '../output/table.js';
import { agentTarget, coordinatorTarget } from '../target.js';
import { agentNames } from '../names.js';
import { allPages } from '../pages.js';
import { ListReposResponse as CoordinatorListReposResponse } from '@grove/sdk/proto/coordinator/v1/coordinator_service.js';
import { UsageError } from '../usage-error.js';

const REPO_HEADER = ['NAME', 'ID', 'DEFAULT BRANCH', 'PATH'];
const repoRow = (repo: Repo) => [repo.name, repo.id, repo.defaultBranch, repo.path];

/** Every page of ListRepos, with the revision of the first page. */
async function listAllRepos(agent: AgentClient): Promise<ListReposResponse> {
  const first = await agent.listRepos({});
  const repos = [...first.repos];
  let token = first.nextPageToken;
  while (token) {
    const page = await agent.listRepos({ pageToken: token });
    repos.push(...page.repos);
    token = page.nextPageToken;
  }
  // The first page's revision is the safe one to watch from: events after it may repeat
  // what later pages already show, but none can be missed.
  return { repos, nextPageToken: '', revision: first.revision };
}

const SETTINGS_HELP = `  --keep-ignored GLOB  git-ignored files that are your work (.env, config/*.local), repeatable:
                       kill refuses while a worktree has any, cleanup preserves them
  --copy GLOB          untracked files of this checkout copied into each new worktree (.env),
                       repeatable; unchanged copies are not work: kill removes them
  --setup CMD          run in each new worktree (sh -c) as the session's first task; the session
                       is SETTING_UP until it succeeds, SETUP_FAILED if it fails
  --teardown CMD       run in a worktree before kill or cleanup removes it; a failure is
                       recorded and never stops the removal or the preservation of work`;

const SETTING_FLAGS = {
  'keep-ignored': { type: 'string' as const, multiple: true as const, default: [] as string[] },
  copy: { type: 'string' as const, multiple: true as const, default: [] as string[] },
  setup: { type: 'string' as const },
  teardown: { type: 'string' as const },
};

const add: Command = {
  path: ['repo', 'add'],
  synopsis: 'repo add PATH [--name NAME] [--keep-ignored GLOB]... [--copy GLOB]... [--setup CMD] [--teardown CMD]',
  summary: 'register a git repository with the agent',
  usage: verbUsage(
    'repo add PATH [--name NAME] [--keep-ignored GLOB]... [--copy GLOB]... [--setup CMD] [--teardown CMD]',
    'Registers the git working tree at PATH (relative to the current directory) with the agent.',
    `  --name NAME          name to refer to the repo by (default: the directory's name)\n${SETTINGS_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, { name: { type: 'string', default: '' }, ...SETTING_FLAGS });
    const [path] = expectPositionals('repo add', positionals, ['PATH']);
    // The agent may run elsewhere with another cwd: only an absolute path means the same thing there.
    const absolute = resolve(io.cwd, path);
    const response = await withAgent(agentTarget(values, io), (agent) =>
      agent.addRepo({
        path: absolute,
        name: values.name,
        keepIgnored: values['keep-ignored'],
        copy: values.copy,
        setup: values.setup ?? '',
        teardown: values.teardown ?? '',
      }),
    );
    if (values.json) return io.outExact(formatJsonLine(AddRepoResponse.toJSON(response)));
    const { repo } = response;
    if (!repo) throw new Error('the agent answered AddRepo without the repo');
    io.out(`added repo ${repo.name} (${repo.id}) at ${repo.path}\n`);
  },
};

const ls: Command = {
  path: ['repo', 'ls'],
  synopsis: 'repo ls [--coordinator ADDR [--on AGENT]]',
  summary: "list the agent's repos (every agent's with --coordinator)",
  usage: verbUsage(
    'repo ls [--coordinator ADDR [--on AGENT]]',
    "Lists every repo registered with the agent; with --coordinator, every agent's as the coordinator projects them, with an AGENT column.",
    "  --on AGENT   with --coordinator: only this agent's repos",
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, { on: { type: 'string' } });
    expectPositionals('repo ls', positionals, []);
    if (values.coordinator) {
      return withCoordinator(coordinatorTarget(values, io), async (coordinator) => {
        const [names, { first, items }] = await Promise.all([
          agentNames(coordinator),
          allPages(
            (pageToken) => coordinator.listRepos({ pageToken, pageSize: 1000, agent: values.on ?? '' }),
            (page) => page.repos,
          ),
        ]);
        if (values.json)
          return io.outExact(formatJsonLine(CoordinatorListReposResponse.toJSON({ ...first, repos: items, nextPageToken: '' })));
        if (items.length === 0) return io.err('no repos\n');
        io.out(formatTable([['AGENT', ...REPO_HEADER], ...items.map((r) => [names(r.agentId), ...repoRow(r.repo!)])]));
      });
    }
    const response = await withAgent(agentTarget(values, io), listAllRepos);
    if (values.json) return io.outExact(formatJsonLine(ListReposResponse.toJSON(response)));
    if (response.repos.length === 0) return io.err('no repos\n');
    io.out(formatTable([REPO_HEADER, ...response.repos.map(repoRow)]));
  },
};

const get: Command = {
  path: ['repo', 'get'],
  synopsis: 'repo get ID|NAME',
  summary: 'show one repo',
  usage: verbUsage('repo get ID|NAME', 'Shows one repo, named by its id or its name.'),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {});
    const [id] = expectPositionals('repo get', positionals, ['ID|NAME']);
    const repo = await withAgent(agentTarget(values, io), (agent) => agent.getRepo({ id }));
    if (values.json) return io.outExact(formatJsonLine(Repo.toJSON(repo)));
    io.out(
      formatTable([
        ['NAME', repo.name],
        ['ID', repo.id],
        ['PATH', repo.path],
        ['DEFAULT BRANCH', repo.defaultBranch],
        ['KEEP IGNORED', repo.keepIgnored.length ? repo.keepIgnored.join(' ') : '-'],
        ['COPY', repo.copy.length ? repo.copy.join(' ') : '-'],
        ['SETUP', repo.setup || '-'],
        ['TEARDOWN', repo.teardown || '-'],
        ['CREATED', formatTime(repo.createTime)],
      ]),
    );
  },
};

const rm: Command = {
  path: ['repo', 'rm'],
  synopsis: 'repo rm ID|NAME',
  summary: 'unregister a repo (its files are left alone)',
  usage: verbUsage(
    'repo rm ID|NAME',
    'Unregisters a repo from the agent; the repository on disk is not touched.\nRefused while sessions use it.',
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {});
    const [id] = expectPositionals('repo rm', positionals, ['ID|NAME']);
    const response = await withAgent(agentTarget(values, io), (agent) => agent.removeRepo({ id }));
    if (values.json) return io.outExact(formatJsonLine(RemoveRepoResponse.toJSON(response)));
    io.out(`removed repo ${id}\n`);
  },
};

const set: Command = {
  path: ['repo', 'set'],
  synopsis:
    'repo set ID|NAME [--keep-ignored GLOB... | --no-keep-ignored] [--copy GLOB... | --no-copy] [--setup CMD | --no-setup] [--teardown CMD | --no-teardown]',
  summary: "change a repo's settings",
  usage: verbUsage(
    'repo set ID|NAME [--keep-ignored GLOB... | --no-keep-ignored] [--copy GLOB... | --no-copy]\n                  [--setup CMD | --no-setup] [--teardown CMD | --no-teardown]',
    "Changes the repo's settings that are named; the globs given replace the ones it had, the\nothers are left as they were. Sessions already made keep what they were made with.",
    `${SETTINGS_HELP}\n  --no-keep-ignored, --no-copy, --no-setup, --no-teardown   clear that setting`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {
      ...SETTING_FLAGS,
      'no-keep-ignored': { type: 'boolean', default: false },
      'no-copy': { type: 'boolean', default: false },
      'no-setup': { type: 'boolean', default: false },
      'no-teardown': { type: 'boolean', default: false },
    });
    const [id] = expectPositionals('repo set', positionals, ['ID|NAME']);
    const settings = { keepIgnored: values['keep-ignored'], copy: values.copy, setup: values.setup ?? '', teardown: values.teardown ?? '' };
    const mask: string[] = [];
    const pick = (field: string, given: boolean, cleared: boolean) => {
      if (given && cleared) throw new UsageError(`repo set: --${field} and --no-${field} exclude each other`);
      if (given || cleared) mask.push(field.replace('-', '_'));
    };
    pick('keep-ignored', settings.keepIgnored.length > 0, values['no-keep-ignored']);
    pick('copy', settings.copy.length > 0, values['no-copy']);
    pick('setup', values.setup !== undefined, values['no-setup']);
    pick('teardown', values.teardown !== undefined, values['no-teardown']);
    if (mask.length === 0) throw new UsageError('repo set: name a setting to change (see grove repo set --help)');
    const response = await withAgent(agentTarget(values, io), (agent) => agent.updateRepo({ id, settings, updateMask: mask }));
    if (values.json) return io.outExact(formatJsonLine(UpdateRepoResponse.toJSON(response)));
    const repo = response.repo!;
    const said: Record<string, string> = {
      keep_ignored: repo.keepIgnored.length ? `keeps ignored files matching ${repo.keepIgnored.join(' ')}` : 'keeps no ignored files',
      copy: repo.copy.length ? `copies ${repo.copy.join(' ')} into new worktrees` : 'copies nothing into new worktrees',
      setup: repo.setup ? `sets new worktrees up with: ${repo.setup}` : 'has no setup command',
      teardown: repo.teardown ? `tears worktrees down with: ${repo.teardown}` : 'has no teardown command',
    };
    io.out(`repo ${repo.name} ${mask.map((field) => said[field]).join('; ')}\n`);
  },
};

export const repoCommands: readonly Command[] = [add, ls, get, set, rm];
