import { realpath } from 'node:fs/promises';
import { basename, isAbsolute, sep } from 'node:path';
import type { EntityManager } from '@mikro-orm/sqlite';
import type { Repo } from '../../../gen/grove/agent/v1/resources.js';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../../common/errors.js';
import { newId } from '../../common/ids.js';
import type { Logger } from '../../common/logging.js';
import { decodePageToken, pageSize, takePage } from '../../common/paging.js';
import { RepoSchema, type RepoRow } from '../store/entities.js';
import type { Store, Tx } from '../store/store.js';
import { branchNameProblem } from '../../common/branch-name.js';
import { inspectRepo } from './repo-inspector.js';
import { repoResource, toRepoProto } from './repo-mapper.js';

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Counts what still uses a repo; RemoveRepo refuses while it is non-zero. */
export type RepoUsage = (em: EntityManager, repoId: string) => Promise<number>;

const MAX_GLOBS = 32;
const MAX_GLOB = 256;
const MAX_COMMAND = 4096;

/** What a repo may be told about its worktrees (AddRepo, UpdateRepo). */
export interface RepoSettings {
  keepIgnored: string[];
  setup: string;
  teardown: string;
  copy: string[];
}

const SETTING_FIELDS: Record<string, keyof RepoSettings> = {
  keep_ignored: 'keepIgnored',
  keepIgnored: 'keepIgnored',
  setup: 'setup',
  teardown: 'teardown',
  copy: 'copy',
};

/** Checks a setup or teardown command: a line for `/bin/sh -c`, of bounded size. */
function checkCommand(command: string, what: 'setup' | 'teardown'): string {
  if (command.length > MAX_COMMAND) throw invalidArgument('BAD_COMMAND', `the ${what} command is over ${MAX_COMMAND} characters`);
  if (command.includes('\0')) throw invalidArgument('BAD_COMMAND', `the ${what} command contains a NUL`);
  return command.trim();
}

/** Checks the settings given, each as its own kind of value needs. */
function checkSettings(settings: Partial<RepoSettings>): Partial<RepoSettings> {
  const checked: Partial<RepoSettings> = {};
  if (settings.keepIgnored) checked.keepIgnored = checkKeepIgnored(settings.keepIgnored);
  if (settings.copy) checked.copy = checkKeepIgnored(settings.copy, 'copy');
  if (settings.setup !== undefined) checked.setup = checkCommand(settings.setup, 'setup');
  if (settings.teardown !== undefined) checked.teardown = checkCommand(settings.teardown, 'teardown');
  return checked;
}

/** Checks keep-ignored (or copy) globs: patterns relative to the worktree's top, no pathspec magic. */
export function checkKeepIgnored(globs: readonly string[], what: 'keep-ignored' | 'copy' = 'keep-ignored'): string[] {
  if (globs.length > MAX_GLOBS) throw invalidArgument('TOO_MANY_GLOBS', `at most ${MAX_GLOBS} ${what} globs`);
  for (const glob of globs) {
    const problem = !glob
      ? 'is empty'
      : glob.length > MAX_GLOB
        ? `is over ${MAX_GLOB} characters`
        : /[\0\n\r]/.test(glob)
          ? 'contains a NUL or newline'
          : glob.startsWith(':')
            ? 'starts with ":" (pathspec magic is not accepted)'
            : isAbsolute(glob) || glob.split('/').includes('..')
              ? 'must stay inside the worktree (relative, no "..")'
              : undefined;
    if (problem) throw invalidArgument('BAD_GLOB', `${what} glob "${glob.slice(0, 64)}" ${problem}`);
  }
  return [...new Set(globs)];
}

/**
 * The registered repos. Every job, session and sync looks its repo up, and repos change
 * rarely and only here, so lookups are answered from memory: all rows, read once and again
 * after each change of a repo. While a change is under way (until its commit is announced)
 * lookups read the database and keep nothing, and a read that raced a change is not kept.
 */
export class RepoService {
  private known: Map<string, RepoRow> | undefined;
  private changes = 0;
  private changesUnderWay = 0;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly usage: RepoUsage,
    /** Grove's own worktrees live here: a repo inside it would be a worktree of a worktree. */
    private readonly worktreeRoot: string,
  ) {}

  async add(path: string, requestedName: string, settings: Partial<RepoSettings> = {}): Promise<{ repo: Repo; revision: number }> {
    const checked = checkSettings({ keepIgnored: [], copy: [], setup: '', teardown: '', ...settings });
    // All git and filesystem probing happens before the transaction: a bad path writes nothing.
    const inspected = await inspectRepo(path);
    const root = await realpath(this.worktreeRoot).catch(() => this.worktreeRoot);
    if (inspected.path === root || inspected.path.startsWith(root + sep)) {
      throw invalidArgument(
        'REPO_INSIDE_WORKTREE_ROOT',
        `${inspected.path} is inside the worktree root ${root}, where Grove keeps its own worktrees`,
      );
    }
    const name = requestedName || basename(inspected.path);
    // The name also ends up in refs (refs/grove/preserved/<session>/<name>): ref rules apply too.
    if (!NAME_PATTERN.test(name) || branchNameProblem(name)) {
      throw invalidArgument(
        'BAD_REPO_NAME',
        `repo name "${name}" must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      );
    }
    const { value: repo, revision } = await this.changing(async ({ em, emit }) => {
      const clash = await em.findOne(RepoSchema, { $or: [{ name }, { path: inspected.path }] });
      if (clash) {
        throw alreadyExists(
          clash.path === inspected.path ? 'REPO_PATH_EXISTS' : 'REPO_NAME_EXISTS',
          clash.path === inspected.path
            ? `repo at ${inspected.path} is already registered as "${clash.name}"`
            : `a repo named "${name}" is already registered (${clash.path})`,
        );
      }
      const row = em.create(RepoSchema, {
        id: newId('rep'),
        name,
        path: inspected.path,
        defaultBranch: inspected.defaultBranch,
        createdAt: new Date(),
        keepIgnored: checked.keepIgnored ?? [],
        copyGlobs: checked.copy ?? [],
        setup: checked.setup ?? '',
        teardown: checked.teardown ?? '',
      });
      const proto = toRepoProto(row);
      emit({ type: 'repo.added', resource: repoResource(row.id), payload: { $case: 'repo', value: proto } });
      return proto;
    });
    this.log.info({ repo: repo.id, name: repo.name, path: repo.path }, 'repo added');
    return { repo, revision };
  }

  /** Changes the settings named in `mask`; an empty or unknown mask is refused. */
  async update(idOrName: string, settings: RepoSettings, mask: readonly string[]): Promise<{ repo: Repo; revision: number }> {
    if (mask.length === 0) throw invalidArgument('UPDATE_MASK_REQUIRED', 'name the settings to change in update_mask');
    const unknown = mask.filter((field) => !Object.hasOwn(SETTING_FIELDS, field));
    if (unknown.length) throw invalidArgument('BAD_UPDATE_MASK', `no repo setting "${unknown[0]!.slice(0, 64)}"`);
    const fields = new Set(mask.map((field) => SETTING_FIELDS[field]!));
    const checked = checkSettings(Object.fromEntries([...fields].map((field) => [field, settings[field]])));
    const { id } = await this.find(idOrName);
    const { value: repo, revision } = await this.changing(async ({ em, emit }) => {
      const row = await em.findOneOrFail(RepoSchema, { id });
      if (checked.keepIgnored) row.keepIgnored = checked.keepIgnored;
      if (checked.copy) row.copyGlobs = checked.copy;
      if (checked.setup !== undefined) row.setup = checked.setup;
      if (checked.teardown !== undefined) row.teardown = checked.teardown;
      const proto = toRepoProto(row);
      emit({ type: 'repo.updated', resource: repoResource(row.id), payload: { $case: 'repo', value: proto } });
      return proto;
    });
    this.log.info({ repo: repo.id, fields: [...fields] }, 'repo updated');
    return { repo, revision };
  }

  async get(idOrName: string): Promise<Repo> {
    return toRepoProto(await this.find(idOrName));
  }

  /** Accepts a repo id or its unique name, the way people refer to repos. The row is read-only. */
  async find(idOrName: string): Promise<RepoRow> {
    if (!idOrName) throw invalidArgument('REPO_REQUIRED', 'a repo id or name is required');
    const row = (await this.byIdOrName()).get(idOrName);
    if (!row) throw notFound('REPO_NOT_FOUND', `no repo "${idOrName}" on this agent`);
    return row;
  }

  /** Every repo under its name and its id (an id wins over a name that looks like one). */
  private async byIdOrName(): Promise<Map<string, RepoRow>> {
    if (this.known) return this.known;
    const before = this.changes;
    const rows = await this.store.read().find(RepoSchema, {});
    const known = new Map<string, RepoRow>();
    // Frozen copies, shared by every caller: a change goes through update, never the row.
    const frozen = rows.map((row) =>
      Object.freeze({ ...row, keepIgnored: Object.freeze([...row.keepIgnored]), copyGlobs: Object.freeze([...row.copyGlobs]) }),
    ) as RepoRow[];
    for (const row of frozen) known.set(row.name, row);
    for (const row of frozen) known.set(row.id, row);
    if (before === this.changes && this.changesUnderWay === 0) this.known = known;
    return known;
  }

  /** A change of repos, committed (and its events announced) with no lookup answered from memory. */
  private async changing<T>(work: (tx: Tx) => Promise<T>): Promise<{ value: T; revision: number }> {
    this.changesUnderWay++;
    this.known = undefined;
    try {
      return await this.store.commit(work);
    } finally {
      this.changesUnderWay--;
      this.changes++;
      this.known = undefined;
    }
  }

  async list(requestedPageSize: number, pageToken: string) {
    const size = pageSize(requestedPageSize);
    const after = decodePageToken(pageToken);
    return this.store.readConsistent(async (em) => {
      const rows = await em.find(RepoSchema, after ? { id: { $gt: after } } : {}, {
        orderBy: { id: 'asc' },
        limit: size + 1,
      });
      const { page, nextPageToken } = takePage(rows, size, (row) => row.id);
      return { repos: page.map(toRepoProto), nextPageToken };
    });
  }

  async remove(idOrName: string): Promise<number> {
    const row = await this.find(idOrName);
    const { revision } = await this.changing(async ({ em, emit }) => {
      const users = await this.usage(em, row.id);
      if (users > 0) {
        throw failedPrecondition('REPO_IN_USE', `repo "${row.name}" is used by ${users} session(s); kill or clean them up first`);
      }
      await em.nativeDelete(RepoSchema, { id: row.id });
      emit({
        type: 'repo.removed',
        resource: repoResource(row.id),
        deleted: true,
        payload: { $case: 'repo', value: toRepoProto(row) },
      });
    });
    this.log.info({ repo: row.id, name: row.name }, 'repo removed');
    return revision;
  }
}
