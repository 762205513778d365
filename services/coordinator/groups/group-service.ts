import { Status } from 'nice-grpc';
import { SessionActivity, TaskState } from '../../../gen/grove/agent/v1/resources.js';
import {
  GroupMemberState,
  type CreateGroupRequest,
  type Group,
  type GroupMember,
  type PickGroupRequest,
} from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import { agentMethod, type AgentRequestOf, type AgentResponseOf, type UnaryAgentMethodKey } from '../../../wire/agent-methods.js';
import type { GroveReason } from '../../../wire/reasons.js';
import { branchNameProblem } from '../../common/branch-name.js';
import { failedPrecondition, GroveError, invalidArgument, notFound } from '../../common/errors.js';
import { isWellFormedId, newId } from '../../common/ids.js';
import type { Logger } from '../../common/logging.js';
import { parseLabels } from '../../common/paging.js';
import type { AgentRegistry } from '../agents/agent-registry.js';
import type { LinkHub } from '../link/link-hub.js';
import type { Projection } from '../projection/projection.js';
import type { RouteCandidate } from '../routing/route-target.js';
import { GroupSchema, type GroupMemberRecord, type GroupRow } from '../store/entities.js';
import type { CoordinatorOrm } from '../store/orm.js';
import { placeMembers } from './placement.js';

export const MAX_GROUP_MEMBERS = 20;
const MAX_TITLE = 200;
// Creating a member's session may fetch nothing but writes worktrees: give it time.
const MEMBER_CALL_MS = 60_000;
// A stat for `group get` is a nicety: an agent slower than this shows none.
const STAT_CALL_MS = 10_000;

const MEMBER_STATES: Record<GroupMemberRecord['state'], GroupMemberState> = {
  created: GroupMemberState.GROUP_MEMBER_STATE_CREATED,
  failed: GroupMemberState.GROUP_MEMBER_STATE_FAILED,
  picked: GroupMemberState.GROUP_MEMBER_STATE_PICKED,
  cleaned_up: GroupMemberState.GROUP_MEMBER_STATE_CLEANED_UP,
};

export interface GroupServiceDeps {
  orm: CoordinatorOrm;
  hub: LinkHub;
  registry: AgentRegistry;
  projection: Projection;
  /** The agents as routing weighs them, now. */
  candidates: () => RouteCandidate[];
  isConnected: (agentId: string) => boolean;
  log: Logger;
}

/**
 * Fan-out groups: N attempts of one task, each a session (and its task) on an agent, kept
 * as the coordinator's own records so they survive its restarts. What a member's session and
 * task are doing now comes from the projection; the agents stay the owners of both.
 */
export class GroupService {
  constructor(private readonly deps: GroupServiceDeps) {}

  async create(request: CreateGroupRequest): Promise<Group> {
    if (!Number.isInteger(request.count) || request.count < 1 || request.count > MAX_GROUP_MEMBERS) {
      throw invalidArgument('BAD_COUNT', `count must be between 1 and ${MAX_GROUP_MEMBERS}, not ${request.count}`);
    }
    if (request.repos.length === 0) throw invalidArgument('REPOS_REQUIRED', 'name the repos each attempt works in (--repo)');
    if (request.title.length > MAX_TITLE) throw invalidArgument('TITLE_TOO_LONG', `the title is over ${MAX_TITLE} characters`);
    if (request.argv.length > 0 === Boolean(request.profile)) {
      throw invalidArgument('ARGV_REQUIRED', 'give what each attempt runs: -- ARGV, or --profile P (with --prompt)');
    }
    const id = newId('grp');
    const prefix = request.branchPrefix || `grove/${id}`;
    const problem = branchNameProblem(`${prefix}-${request.count}`);
    if (problem) throw invalidArgument('BAD_BRANCH_NAME', `branch prefix "${prefix.slice(0, 100)}": ${problem}`);
    const ask = { agent: '', labels: parseLabels(request.labelSelector), repos: request.repos };
    const placed = placeMembers(this.deps.candidates(), request.count, request.spread, ask);
    // The group is recorded before its first member is made, and each member as soon as it
    // is: a coordinator that dies half-way leaves a group that names what it made. Members
    // are made one after another: each is all or nothing, and a failed one does not stop the rest.
    const row: GroupRow = { id, title: request.title, members: [], pickedSessionId: '', landJobId: '', createdAt: new Date() };
    await this.deps.orm.em.fork().insert(GroupSchema, row);
    for (const [i, agent] of placed.entries()) {
      row.members.push(await this.createMember(i + 1, agent.id, `${prefix}-${i + 1}`, request, id));
      await this.save(row);
    }
    this.deps.log.info({ group: id, members: row.members.map((m) => [m.agentId, m.state]) }, 'group created');
    return this.announce(row);
  }

  async list(): Promise<Group[]> {
    const rows = await this.deps.orm.em.fork().find(GroupSchema, {}, { orderBy: { id: 'asc' } });
    return rows.map((row) => this.toProto(row));
  }

  /** The group with each member's live outcome, and its diff stat where the agent answers. */
  async get(id: string): Promise<Group> {
    const group = this.toProto(await this.find(id));
    await Promise.all(group.members.map((member) => this.addDiffStat(member)));
    return group;
  }

  async pick(request: PickGroupRequest): Promise<Group> {
    const row = await this.find(request.groupId);
    const chosen = row.members.find((m) => m.sessionId && m.sessionId === request.sessionId);
    if (!chosen && !row.pickedSessionId) {
      throw notFound('NOT_A_MEMBER', `session "${request.sessionId.slice(0, 64)}" is not a member of group ${row.id}`);
    }
    // One pick per group, however many ask at once: the row is claimed with a compare-and-swap
    // before anything else happens, and given back if the pick is refused.
    const claimed = await this.deps.orm.em
      .fork()
      .nativeUpdate(GroupSchema, { id: row.id, pickedSessionId: '' }, { pickedSessionId: request.sessionId });
    if (claimed === 0 || !chosen) {
      const picked = (await this.find(row.id)).pickedSessionId;
      throw failedPrecondition('ALREADY_PICKED', `group ${row.id} already kept session ${picked}`);
    }
    let landJobId = '';
    try {
      // Landing is checked first (uncommitted work, a running task): a refusal changes nothing.
      if (request.land) {
        landJobId = (
          await this.call(chosen.agentId, 'landSession', {
            sessionId: chosen.sessionId,
            into: '',
            strategy: 0,
            push: false,
            idempotencyKey: `${row.id}/land/${chosen.sessionId}`,
          })
        ).job!.id;
      }
    } catch (err) {
      await this.deps.orm.em.fork().nativeUpdate(GroupSchema, { id: row.id, pickedSessionId: request.sessionId }, { pickedSessionId: '' });
      throw err;
    }
    chosen.state = 'picked';
    for (const member of row.members) {
      if (member !== chosen && member.state === 'created') await this.cleanUp(member);
    }
    row.pickedSessionId = chosen.sessionId;
    row.landJobId = landJobId;
    await this.save(row);
    return this.announce(row);
  }

  /** Cleans up every member (work preserved), then forgets the group; refuses while an agent is away. */
  async remove(id: string): Promise<void> {
    const row = await this.find(id);
    for (const member of row.members) {
      if (member.state === 'created' || member.state === 'picked') await this.cleanUp(member);
    }
    const stuck = row.members.filter((m) => m.state === 'created' || m.state === 'picked');
    if (stuck.length > 0) {
      await this.save(row);
      throw failedPrecondition(
        'CLEANUP_INCOMPLETE',
        `group ${id} kept: member(s) ${stuck.map((m) => m.index).join(', ')} could not be cleaned up (${stuck[0]!.error}); try again`,
      );
    }
    await this.deps.orm.em.fork().nativeDelete(GroupSchema, { id });
    this.deps.projection.groupChanged({ ...this.toProto(row), members: [] });
  }

  private async createMember(
    index: number,
    agentId: string,
    branch: string,
    request: CreateGroupRequest,
    groupId: string,
  ): Promise<GroupMemberRecord> {
    // Request ids the agent remembers: a repeat of this member's calls answers what was made.
    const requestId = `${groupId}/${index}`;
    const member: GroupMemberRecord = { index, agentId, sessionId: '', taskId: '', branch, state: 'failed', error: '' };
    try {
      const { session } = await this.call(agentId, 'createSession', {
        repoIds: request.repos,
        branch,
        base: '',
        title: request.title || `attempt ${index}`,
        labels: {},
        requestId: `${requestId}/session`,
      });
      member.sessionId = session!.id;
      const { task } = await this.call(agentId, 'startTask', {
        sessionId: member.sessionId,
        argv: request.argv,
        prompt: request.prompt,
        env: {},
        repoId: '',
        requestId: `${requestId}/task`,
        tty: request.tty,
        cols: 0,
        rows: 0,
        profile: request.profile,
        continue: false,
      });
      member.taskId = task!.id;
      member.state = 'created';
    } catch (err) {
      member.error = (err as Error).message;
      // All or nothing per member: a session without its task is taken down again.
      if (member.sessionId) await this.call(agentId, 'cleanupSession', { id: member.sessionId }).catch(() => undefined);
      this.deps.log.warn({ agent: agentId, branch, err: member.error }, 'group member not created');
    }
    return member;
  }

  /** The normal cleanup: uncommitted work is preserved to refs first (grove preserved ls). */
  private async cleanUp(member: GroupMemberRecord): Promise<void> {
    try {
      await this.call(member.agentId, 'cleanupSession', { id: member.sessionId });
      member.state = 'cleaned_up';
      member.error = '';
    } catch (err) {
      member.error = `cleanup failed: ${(err as Error).message}`;
    }
  }

  private async addDiffStat(member: GroupMember): Promise<void> {
    if (!member.sessionId || member.state === GroupMemberState.GROUP_MEMBER_STATE_CLEANED_UP || !this.deps.isConnected(member.agentId)) {
      return;
    }
    const diff = await this.call(
      member.agentId,
      'diffSession',
      { sessionId: member.sessionId, repo: '', statOnly: true },
      STAT_CALL_MS,
    ).catch(() => undefined);
    for (const repo of diff?.repos ?? []) {
      member.filesChanged += repo.filesTotal;
      for (const file of repo.files) {
        member.additions += file.additions;
        member.deletions += file.deletions;
      }
    }
  }

  private toProto(row: GroupRow): Group {
    return {
      id: row.id,
      title: row.title,
      createTime: row.createdAt,
      pickedSessionId: row.pickedSessionId,
      landJobId: row.landJobId,
      members: row.members.map((m) => this.memberView(m)),
    };
  }

  /** A member with what the projection says now; an unreachable agent's activity is UNKNOWN. */
  private memberView(m: GroupMemberRecord): GroupMember {
    const projected = this.deps.projection.of(m.agentId);
    const task = m.taskId ? projected?.tasks.get(m.taskId) : undefined;
    const session = m.sessionId ? projected?.sessions.get(m.sessionId) : undefined;
    const reachable = this.deps.isConnected(m.agentId);
    const ended = task?.endTime ?? (task?.state === TaskState.TASK_STATE_RUNNING ? new Date() : undefined);
    return {
      index: m.index,
      agentId: m.agentId,
      agentName: this.deps.registry.get(m.agentId)?.name ?? '',
      sessionId: m.sessionId,
      taskId: m.taskId,
      branch: m.branch,
      state: MEMBER_STATES[m.state],
      error: m.error,
      taskState: task?.state ?? TaskState.TASK_STATE_UNSPECIFIED,
      activity: !reachable ? SessionActivity.SESSION_ACTIVITY_UNKNOWN : (session?.activity ?? SessionActivity.SESSION_ACTIVITY_UNSPECIFIED),
      exitCode: task?.exitCode ?? 0,
      durationMs: task?.startTime && ended ? ended.getTime() - task.startTime.getTime() : 0,
      filesChanged: 0,
      additions: 0,
      deletions: 0,
    };
  }

  private async find(id: string): Promise<GroupRow> {
    if (!id) throw invalidArgument('GROUP_REQUIRED', 'a group id is required');
    if (!isWellFormedId('grp', id)) throw invalidArgument('BAD_GROUP_ID', `"${id.slice(0, 64)}" is not a group id`);
    const row = await this.deps.orm.em.fork().findOne(GroupSchema, { id });
    if (!row) throw notFound('GROUP_NOT_FOUND', `no group "${id}"`);
    return row;
  }

  private async save(row: GroupRow): Promise<void> {
    await this.deps.orm.em
      .fork()
      .nativeUpdate(GroupSchema, { id: row.id }, { members: row.members, pickedSessionId: row.pickedSessionId, landJobId: row.landJobId });
  }

  private announce(row: GroupRow): Group {
    const group = this.toProto(row);
    this.deps.projection.groupChanged(group);
    return group;
  }

  /** One AgentService call on an agent over its link; its error as the agent gave it. */
  private async call<K extends UnaryAgentMethodKey>(
    agentId: string,
    key: K,
    request: AgentRequestOf<K>,
    timeoutMs = MEMBER_CALL_MS,
  ): Promise<AgentResponseOf<K>> {
    const method = agentMethod(key)!;
    const result = await this.deps.hub.sendCommand(agentId, method.name, method.requestType.encode(request).finish(), timeoutMs);
    if (result.code !== Status.OK) throw new GroveError(result.code, (result.reason || 'INTERNAL') as GroveReason, result.message);
    return method.responseType.decode(result.response) as AgentResponseOf<K>;
  }
}
