import {
  CleanupSessionResponse,
  CreateSessionResponse,
  KillSessionResponse,
  ListSessionsResponse,
  RestoreSessionsResponse,
} from '@grove/sdk/proto/agent/v1/agent_service.js';
import { Session, SessionActivity, SessionState, WorktreeState } from '@grove/sdk/proto/agent/v1/resources.js';
import { ListSessionsResponse as CoordinatorListSessionsResponse } from '@grove/sdk/proto/coordinator/v1/coordinator_service.js';
import type { AgentCaller } from '@grove/sdk';
import { enumFlag, expectPositionals, keyValueFlags, parseVerbArgs, ROUTE_FLAG_HELP, ROUTE_OPTIONS, selectorFlag } from '../args.js';
import { onAgent, withCaller } from '../caller.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { ExitError } from '../exit-error.js';
import { EXIT_CALL_FAILED, EXIT_REFUSED } from '../exit-status.js';
import { verbUsage } from '../help.js';
import { agentNames, type Names } from '../names.js';
import { formatJsonLine } from '../output/json.js';
import { removedIgnoredLines, sessionActivityLabel, sessionDetail, sessionStateLabel, worktreeTable } from '../output/session-view.js';
import { formatTable } from '../output/table.js';
import { allPages } from '../pages.js';
import { UsageError } from '../usage-error.js';

const STATE_HELP = 'active, stopped, archived, pending_branch';

const create: Command = {
  path: ['session', 'create'],
  synopsis: 'session create --repo R... --branch B [...]',
  summary: 'create a session: a worktree of each repo on a branch',
  usage: verbUsage(
    'session create --repo R [--repo R2 ...] --branch B [--base REF] [--title T] [--label k=v ...]',
    `Creates a session on branch B with one worktree per repo (repos by name or id). A branch
that does not exist yet is made from --base (default: each repo's default branch); an
existing one is checked out. With --coordinator the session goes to the agent given by
--on, or to a connected agent that has the first repo and matches every --where label.`,
    `  --repo R       a repo of the session (repeatable; at least one)
  --branch B     the session's branch
  --base REF     where a new branch starts (default: the repo's default branch)
  --title T      a title for people
  --label k=v    a label of the session (repeatable)
  --where k=v    with --coordinator: only agents with this label (repeatable)
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {
      ...ROUTE_OPTIONS,
      repo: { type: 'string', multiple: true },
      branch: { type: 'string' },
      base: { type: 'string', default: '' },
      title: { type: 'string', default: '' },
      label: { type: 'string', multiple: true },
      where: { type: 'string', multiple: true },
    });
    expectPositionals('session create', positionals, []);
    const repos = values.repo ?? [];
    if (repos.length === 0) throw new UsageError('session create: missing --repo R');
    if (!values.branch) throw new UsageError('session create: missing --branch B');
    if (values.where && !values.coordinator) {
      throw new UsageError('session create: --where chooses an agent, so it needs --coordinator HOST:PORT');
    }
    const request = {
      repoIds: repos,
      branch: values.branch,
      base: values.base,
      title: values.title,
      labels: keyValueFlags('label', values.label),
    };
    const { response, agent } = await withCaller(values, io, (caller) =>
      caller.call('createSession', request, { labelSelector: selectorFlag(values.where), hasRepo: repos[0] }),
    );
    if (values.json) return io.outExact(formatJsonLine(CreateSessionResponse.toJSON(response)));
    const { session } = response;
    if (!session) throw new Error('the agent answered CreateSession without the session');
    io.out(`created session ${session.id} on branch ${session.branch}${onAgent(agent)}\n`);
    if (session.state === SessionState.SESSION_STATE_PENDING_BRANCH) {
      io.out(`waiting for job ${session.pendingJobId} to fetch the branch; 'grove job wait ${session.pendingJobId}'\n`);
    }
    io.out(worktreeTable(session.worktrees));
  },
};

const sessionRow = (session: Session, agentName?: Names) => [
  ...(agentName ? [agentName(session.agentId)] : []),
  session.id,
  session.branch,
  sessionStateLabel(session),
  sessionActivityLabel(session),
  session.worktrees.map((w) => w.repoName).join(',') || '-',
  session.title || '-',
];

async function listSessions(
  caller: AgentCaller,
  filter: { state: number; repo: string; labelSelector: string; activity: number },
): Promise<{ json: unknown; rows: string[][] }> {
  if (caller.kind === 'routed') {
    // Across every agent (or the one --on names): the coordinator's projection.
    const { coordinator } = caller;
    const request = {
      agent: caller.target.agent ?? '',
      state: filter.state,
      repo: filter.repo,
      labelSelector: filter.labelSelector,
      activity: filter.activity,
    };
    const { first, items } = await allPages(
      (pageToken) => coordinator.listSessions({ ...request, pageToken }),
      (p) => p.sessions,
    );
    const names = await agentNames(coordinator);
    const json = CoordinatorListSessionsResponse.toJSON({ sessions: items, nextPageToken: '', revision: first.revision });
    return { json, rows: [['AGENT', 'ID', 'BRANCH', 'STATE', 'ACTIVITY', 'REPOS', 'TITLE'], ...items.map((s) => sessionRow(s, names))] };
  }
  const request = { state: filter.state, repoId: filter.repo, labelSelector: filter.labelSelector, activity: filter.activity };
  const { first, items } = await allPages(
    async (pageToken) => (await caller.call('listSessions', { ...request, pageToken })).response,
    (page) => page.sessions,
  );
  const json = ListSessionsResponse.toJSON({ sessions: items, nextPageToken: '', revision: first.revision });
  return { json, rows: [['ID', 'BRANCH', 'STATE', 'ACTIVITY', 'REPOS', 'TITLE'], ...items.map((s) => sessionRow(s))] };
}

const ls: Command = {
  path: ['session', 'ls'],
  synopsis: 'session ls [--state S] [--activity A] [--repo R] [--where k=v]',
  summary: 'list sessions (of every agent, with an AGENT column, via --coordinator)',
  usage: verbUsage(
    'session ls [--state S] [--activity A] [--repo R] [--where k=v ...]',
    `Lists the agent's sessions; with --coordinator, the sessions of every agent (or of the one
--on names) as the coordinator projects them, with an AGENT column.`,
    `  --state S    only sessions in this state: ${STATE_HELP}
  --activity A only sessions doing this: needs-input, working, idle, unknown
  --repo R     only sessions with a worktree of this repo (name or id)
  --where k=v  only sessions with this label (repeatable)
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {
      ...ROUTE_OPTIONS,
      state: { type: 'string' },
      activity: { type: 'string' },
      repo: { type: 'string', default: '' },
      where: { type: 'string', multiple: true },
    });
    expectPositionals('session ls', positionals, []);
    const filter = {
      state: enumFlag('--state', values.state, SessionState, 'SESSION_STATE_'),
      repo: values.repo,
      labelSelector: selectorFlag(values.where),
      activity: enumFlag('--activity', values.activity, SessionActivity, 'SESSION_ACTIVITY_'),
    };
    const { json, rows } = await withCaller(values, io, (caller) => listSessions(caller, filter));
    if (values.json) return io.outExact(formatJsonLine(json));
    if (rows.length === 1) return io.err('no sessions\n');
    io.out(formatTable(rows));
  },
};

const get: Command = {
  path: ['session', 'get'],
  synopsis: 'session get ID',
  summary: 'show a session and its worktrees',
  usage: verbUsage('session get ID', 'Shows a session: its fields and, per repo, its worktree.', ROUTE_FLAG_HELP),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    const [id] = expectPositionals('session get', positionals, ['ID']);
    const { response, agent } = await withCaller(values, io, (caller) => caller.call('getSession', { id }));
    if (values.json) return io.outExact(formatJsonLine(Session.toJSON(response)));
    io.out(sessionDetail(response, agent?.name));
  },
};

const kill: Command = {
  path: ['session', 'kill'],
  synopsis: 'session kill ID',
  summary: 'remove the clean worktrees of a session; refuses (exit 3) when any has work',
  usage: verbUsage(
    'session kill ID',
    `Removes the session's worktrees (restorable with 'grove session restore'). Every repo is
checked first: when any worktree has uncommitted or untracked changes, or a live process
works inside it, nothing is removed, each reason is listed (REPO REASON MESSAGE) and the
exit status is 3. 'grove session cleanup' preserves such work and removes anyway.`,
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    const [id] = expectPositionals('session kill', positionals, ['ID']);
    const { response, agent } = await withCaller(values, io, (caller) => caller.call('killSession', { id }), { long: true });
    if (values.json) io.outExact(formatJsonLine(KillSessionResponse.toJSON(response)));
    if (response.freed) {
      if (!values.json)
        io.out(
          `killed session ${id}${onAgent(agent)}: its worktrees are removed (restorable)\n${removedIgnoredLines(response.session?.worktrees ?? [])}`,
        );
      return;
    }
    if (!values.json) {
      io.out(`session ${id} was not killed${onAgent(agent)}; nothing was removed:\n`);
      io.out(formatTable([['REPO', 'REASON', 'MESSAGE'], ...response.refusals.map((r) => [r.repoName, r.reason, r.message])]));
    }
    const repos = [...new Set(response.refusals.map((r) => r.repoName))].join(', ');
    throw new ExitError(
      `session ${id} not killed: work in ${repos}; commit or clean it, or run 'grove session cleanup ${id}' to preserve it and remove`,
      EXIT_REFUSED,
    );
  },
};

const cleanup: Command = {
  path: ['session', 'cleanup'],
  synopsis: 'session cleanup ID',
  summary: 'preserve any work of a session to refs, then remove its worktrees',
  usage: verbUsage(
    'session cleanup ID',
    `Tears a session down whatever state its worktrees are in: a worktree with changes is first
preserved (tracked and untracked) to refs/grove/preserved/<session>/<repo>, recorded on the
session, and only then removed. See 'grove preserved ls' and 'grove preserved apply'.`,
    ROUTE_FLAG_HELP,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, ROUTE_OPTIONS);
    const [id] = expectPositionals('session cleanup', positionals, ['ID']);
    const { response, agent } = await withCaller(values, io, (caller) => caller.call('cleanupSession', { id }), { long: true });
    if (values.json) return io.outExact(formatJsonLine(CleanupSessionResponse.toJSON(response)));
    const worktrees = response.session?.worktrees ?? [];
    const preserved = worktrees.filter((w) => w.preservedRef).length;
    io.out(`cleaned up session ${id}${onAgent(agent)}; ${preserved} worktree(s) with work preserved\n`);
    io.out(worktreeTable(worktrees) + removedIgnoredLines(worktrees));
  },
};

const restore: Command = {
  path: ['session', 'restore'],
  synopsis: 'session restore ID... | --all',
  summary: 'recreate the removed worktrees of sessions on their branches',
  usage: verbUsage(
    'session restore ID... | --all',
    `Recreates removed worktrees on their branches. Anything found in the way at a worktree's
path is moved aside (renamed, never deleted) and listed. Preserved work is not applied by
this: see 'grove preserved apply'. Exit status 1 when a worktree could not be restored.`,
    `  --all        every session with a removed worktree (with --coordinator, on the --on agent)
${ROUTE_FLAG_HELP}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, { ...ROUTE_OPTIONS, all: { type: 'boolean', default: false } });
    if (values.all && positionals.length > 0) throw new UsageError('session restore: name sessions (ID...) or --all, not both');
    if (!values.all && positionals.length === 0) throw new UsageError('session restore: missing ID... (or --all)');
    if (values.all && values.coordinator && !values.on) {
      throw new UsageError('session restore: --all is per agent; with --coordinator, name it with --on AGENT');
    }
    const { response, agent } = await withCaller(
      values,
      io,
      (caller) => caller.call('restoreSessions', { ids: positionals, all: values.all }),
      { long: true },
    );
    if (values.json) io.outExact(formatJsonLine(RestoreSessionsResponse.toJSON(response)));
    else {
      if (response.sessions.length === 0) io.err('nothing to restore\n');
      for (const session of response.sessions) {
        io.out(`restored session ${session.id}${onAgent(agent)}: ${sessionStateLabel(session)}\n`);
        io.out(worktreeTable(session.worktrees));
      }
      for (const moved of response.moved) io.out(`moved aside: ${moved.from} -> ${moved.to}\n`);
    }
    const failed = response.sessions.flatMap((s) =>
      s.worktrees.filter((w) => w.lastError && w.state !== WorktreeState.WORKTREE_STATE_ACTIVE).map((w) => `${s.id}/${w.repoName}`),
    );
    if (failed.length > 0) throw new ExitError(`could not restore ${failed.join(', ')}: see NOTE`, EXIT_CALL_FAILED);
  },
};

export const sessionCommands: readonly Command[] = [create, ls, get, kill, cleanup, restore];
