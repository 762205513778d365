import { SessionActivity, TaskState } from '@grove/sdk/proto/agent/v1/resources.js';
import {
  CreateGroupResponse,
  Group,
  GroupMemberState,
  ListGroupsResponse,
  PickGroupResponse,
  type GroupMember,
} from '@grove/sdk/proto/coordinator/v1/coordinator_service.js';
import { expectPositionals, parseVerbArgs, selectorFlag } from '../args.js';
import type { CliIo } from '../cli-io.js';
import type { Command } from '../command.js';
import { withCoordinator } from '../connect.js';
import { verbUsage } from '../help.js';
import { formatTime } from '../output/format.js';
import { formatJsonLine } from '../output/json.js';
import { formatTable } from '../output/table.js';
import { coordinatorTarget } from '../target.js';
import { UsageError } from '../usage-error.js';

const label = (value: number, names: Record<number, string>, prefix: string) =>
  (names[value] ?? '').replace(prefix, '').toLowerCase().replace(/_/g, ' ') || '-';

function memberRow(m: GroupMember): string[] {
  const ok = m.state !== GroupMemberState.GROUP_MEMBER_STATE_FAILED;
  return [
    String(m.index),
    m.agentName || m.agentId || '-',
    m.sessionId || '-',
    label(m.state, GroupMemberState, 'GROUP_MEMBER_STATE_'),
    ok ? label(m.taskState, TaskState, 'TASK_STATE_') : '-',
    ok ? label(m.activity, SessionActivity, 'SESSION_ACTIVITY_') : '-',
    m.taskState === TaskState.TASK_STATE_SUCCEEDED || m.taskState === TaskState.TASK_STATE_FAILED ? String(m.exitCode) : '-',
    m.durationMs ? `${(m.durationMs / 1000).toFixed(1)}s` : '-',
    m.filesChanged ? `${m.filesChanged} files +${m.additions} -${m.deletions}` : '-',
    m.error || '',
  ];
}

function groupDetail(group: Group): string {
  const head = formatTable([
    ['ID', group.id],
    ['TITLE', group.title || '-'],
    ['CREATED', formatTime(group.createTime)],
    ...(group.pickedSessionId ? [['PICKED', group.pickedSessionId]] : []),
    ...(group.landJobId ? [['LAND JOB', group.landJobId]] : []),
  ]);
  const members = formatTable([
    ['#', 'AGENT', 'SESSION', 'MEMBER', 'TASK', 'ACTIVITY', 'EXIT', 'TOOK', 'DIFF', 'ERROR'],
    ...group.members.map(memberRow),
  ]);
  return `${head}\n${members}`;
}

const COORDINATOR_ONLY = '  --coordinator ADDR   the coordinator (required; or GROVE_COORDINATOR)';

function needCoordinator(values: { coordinator?: string | undefined }, io: CliIo, verb: string): void {
  if (!values.coordinator && !io.env.GROVE_COORDINATOR)
    throw new UsageError(`${verb}: groups live on a coordinator: give --coordinator ADDR`);
}

const run: Command = {
  path: ['run'],
  synopsis: 'run --count N [--spread] [--where k=v] --repo R... [--title T] (--profile P --prompt TEXT | -- ARGV)',
  summary: 'N attempts of one task across agents, as a group (through the coordinator)',
  usage: verbUsage(
    'run --count N [--spread] [--where k=v ...] --repo R ... [--title T] [--branch-prefix P] (--profile P [--prompt TEXT] | -- ARGV...)',
    `Creates a group: N sessions, each on its own branch (<prefix>-1..N, default prefix
grove/<group id>), on agents chosen by the selectors, and starts the same task in each.
Prints the group id and its members. A member that cannot be created is reported and the
others still run. Then: grove group get GROUP to compare, grove group pick GROUP SESSION
[--land] to keep one (the others are cleaned up, their work preserved).`,
    `  --count N          attempts (1 to 20)
  --spread           on distinct agents while there are enough, then the least loaded
  --where k=v        only agents with this label (repeatable)
  --repo R           a repo each attempt works in (repeatable; every chosen agent has it)
  --title T          the sessions' title
  --branch-prefix P  member branches are P-1..P-N
  --profile P --prompt TEXT   start agent profile P instead of ARGV
  --tty              run in a pseudo-terminal (task attach)
${COORDINATOR_ONLY}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {
      count: { type: 'string' },
      spread: { type: 'boolean', default: false },
      where: { type: 'string', multiple: true },
      repo: { type: 'string', multiple: true },
      title: { type: 'string' },
      'branch-prefix': { type: 'string' },
      profile: { type: 'string' },
      prompt: { type: 'string' },
      tty: { type: 'boolean', default: false },
    });
    needCoordinator(values, io, 'run');
    const count = Number(values.count);
    if (values.count === undefined || !Number.isInteger(count)) throw new UsageError('run: --count N is required (a whole number)');
    if (!values.repo?.length) throw new UsageError('run: name the repos with --repo R');
    if (positionals.length > 0 === Boolean(values.profile)) throw new UsageError('run: give -- ARGV... or --profile P, one of them');
    const response = await withCoordinator(coordinatorTarget(values, io, 120_000), (coordinator) =>
      coordinator.createGroup({
        count,
        spread: values.spread,
        labelSelector: selectorFlag(values.where),
        repos: values.repo!,
        title: values.title ?? '',
        branchPrefix: values['branch-prefix'] ?? '',
        argv: positionals,
        profile: values.profile ?? '',
        prompt: values.prompt ?? '',
        tty: values.tty,
      }),
    );
    if (values.json) return io.outExact(formatJsonLine(CreateGroupResponse.toJSON(response)));
    io.out(`created group ${response.group!.id}\n${groupDetail(response.group!)}`);
  },
};

const ls: Command = {
  path: ['group', 'ls'],
  synopsis: 'group ls',
  summary: 'the groups of the coordinator',
  usage: verbUsage('group ls', 'Lists groups: ID TITLE MEMBERS PICKED CREATED.', COORDINATOR_ONLY),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {});
    expectPositionals('group ls', positionals, []);
    needCoordinator(values, io, 'group ls');
    const response = await withCoordinator(coordinatorTarget(values, io), (c) => c.listGroups({}));
    if (values.json) return io.outExact(formatJsonLine(ListGroupsResponse.toJSON(response)));
    const rows = response.groups.map((g) => [
      g.id,
      g.title || '-',
      String(g.members.filter((m) => m.state !== GroupMemberState.GROUP_MEMBER_STATE_FAILED).length) + `/${g.members.length}`,
      g.pickedSessionId || '-',
      formatTime(g.createTime),
    ]);
    io.out(formatTable([['ID', 'TITLE', 'MEMBERS', 'PICKED', 'CREATED'], ...rows]));
  },
};

const get: Command = {
  path: ['group', 'get'],
  synopsis: 'group get GROUP',
  summary: "a group's members: agent, session, task state and activity, exit code, duration, diff stat",
  usage: verbUsage('group get GROUP', "Shows each member's outcome so far, to compare the attempts.", COORDINATOR_ONLY),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {});
    const [id] = expectPositionals('group get', positionals, ['GROUP']);
    needCoordinator(values, io, 'group get');
    const group = await withCoordinator(coordinatorTarget(values, io), (c) => c.getGroup({ id }));
    if (values.json) return io.outExact(formatJsonLine(Group.toJSON(group)));
    io.out(groupDetail(group));
  },
};

const pick: Command = {
  path: ['group', 'pick'],
  synopsis: 'group pick GROUP SESSION [--land]',
  summary: 'keep one member (land it with --land); the others are cleaned up, their work preserved',
  usage: verbUsage(
    'group pick GROUP SESSION [--land]',
    `Keeps SESSION and cleans up every other member with the normal cleanup: any uncommitted
work of theirs is preserved to refs first (grove preserved ls SESSION). With --land the kept
session is landed into each repo's default branch (a land_session job; its id is shown),
checked before anything else changes.`,
    `  --land       land the kept member
${COORDINATOR_ONLY}`,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, { land: { type: 'boolean', default: false } });
    const [groupId, sessionId] = expectPositionals('group pick', positionals, ['GROUP', 'SESSION']);
    needCoordinator(values, io, 'group pick');
    const response = await withCoordinator(coordinatorTarget(values, io, 120_000), (c) =>
      c.pickGroup({ groupId, sessionId, land: values.land }),
    );
    if (values.json) return io.outExact(formatJsonLine(PickGroupResponse.toJSON(response)));
    io.out(
      `kept session ${sessionId} of group ${groupId}${response.group!.landJobId ? `; landing in job ${response.group!.landJobId}` : ''}\n`,
    );
    io.out(groupDetail(response.group!));
  },
};

const rm: Command = {
  path: ['group', 'rm'],
  synopsis: 'group rm GROUP',
  summary: 'clean up every member of a group (work preserved) and forget it',
  usage: verbUsage(
    'group rm GROUP',
    "Cleans up every member with the normal cleanup (uncommitted work preserved), then forgets the group; refused while a member's agent is away.",
    COORDINATOR_ONLY,
  ),
  async run(args: string[], io: CliIo) {
    const { values, positionals } = parseVerbArgs(args, {});
    const [id] = expectPositionals('group rm', positionals, ['GROUP']);
    needCoordinator(values, io, 'group rm');
    await withCoordinator(coordinatorTarget(values, io, 120_000), (c) => c.deleteGroup({ id }));
    if (!values.json) io.out(`removed group ${id}; its members are cleaned up (work preserved)\n`);
  },
};

export const groupCommands: readonly Command[] = [run, ls, get, pick, rm];
