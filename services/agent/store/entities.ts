import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { MetaSchema } from '../../common/meta.entity.js';
import type { JobKindName, JobStateName } from '../domain/job-kinds.js';
import type { ActivitySource, TaskActivityName } from '../domain/task-activity.js';
import type { TaskStateName } from '../domain/task-lifecycle.js';
import type { SessionStateName, WorktreeStateName } from '../domain/worktree-lifecycle.js';

// The lifecycles' state unions belong to their domain modules; rows only store them.
export type { JobKindName, JobStateName, SessionStateName, TaskStateName, WorktreeStateName };

export { MetaSchema };

// Entities map tables that the committed migrations create; the schema is never synced from
// these definitions at run time. Foreign keys are plain columns checked by SQLite itself.

/** One repo of a session landed: where, and the commit its target moved to. */
export interface Landing {
  repoId: string;
  repoName: string;
  target: string;
  commit: string;
  jobId: string;
  at: string;
}

/** A file copied from the main checkout into a new worktree, and its content's sha256 then. */
export interface CopiedFile {
  path: string;
  sha256: string;
}

/** A land_session job: what it integrates where, and (once planned) each target's old and new commit. */
export interface LandPlan {
  target: string;
  strategy: 'merge' | 'squash' | 'rebase';
  push: boolean;
  /** Set once every repo integrated cleanly: from here the job only moves refs. */
  repos?: Array<{ repoId: string; repoName: string; repoPath: string; target: string; old: string; new: string; checkout: string }>;
}

export const RepoSchema = defineEntity({
  name: 'RepoRow',
  tableName: 'repo',
  properties: {
    id: p.string().primary(),
    name: p.string(),
    path: p.string(),
    defaultBranch: p.string(),
    createdAt: p.datetime(),
    keepIgnored: p.json<string[]>(),
    setup: p.string(),
    teardown: p.string(),
    copyGlobs: p.json<string[]>(),
  },
});
export type RepoRow = InferEntity<typeof RepoSchema>;

export const EventSchema = defineEntity({
  name: 'EventRow',
  tableName: 'event',
  properties: {
    revision: p.integer().primary().autoincrement(),
    type: p.string(),
    resource: p.string(),
    time: p.datetime(),
    // The encoded grove.agent.v1.Event: stored in wire form so replay is byte-identical.
    payload: p.blob(),
  },
});
export type EventRow = InferEntity<typeof EventSchema>;

export const SessionSchema = defineEntity({
  name: 'SessionRow',
  tableName: 'session',
  properties: {
    id: p.string().primary(),
    title: p.string(),
    branch: p.string(),
    base: p.string(),
    state: p.string().$type<SessionStateName>(),
    labels: p.json<Record<string, string>>(),
    requestId: p.string().nullable(),
    lastError: p.string(),
    // The register_branch job a PENDING_BRANCH session waits for.
    pendingJobId: p.string(),
    landings: p.json<Landing[]>(),
    ports: p.json<number[]>(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  },
});
export type SessionRow = InferEntity<typeof SessionSchema>;

export const WorktreeSchema = defineEntity({
  name: 'WorktreeRow',
  tableName: 'session_worktree',
  properties: {
    sessionId: p.string().primary(),
    repoId: p.string().primary(),
    repoName: p.string(),
    path: p.string(),
    branch: p.string(),
    // Grove made this branch (rather than attaching an existing one): rollback may delete it.
    createdBranch: p.boolean(),
    state: p.string().$type<WorktreeStateName>(),
    preservedRef: p.string(),
    preservedCommit: p.string(),
    lastError: p.string(),
    drift: p.string(),
    removeAttempts: p.integer(),
    nextRetryAt: p.datetime().nullable(),
    removedIgnored: p.json<string[]>(),
    removedIgnoredTotal: p.integer(),
    copied: p.json<CopiedFile[]>(),
    teardownError: p.string(),
  },
  primaryKeys: ['sessionId', 'repoId'],
});
export type WorktreeRow = InferEntity<typeof WorktreeSchema>;

export const TaskSchema = defineEntity({
  name: 'TaskRow',
  tableName: 'task',
  properties: {
    id: p.string().primary(),
    sessionId: p.string(),
    seq: p.integer(),
    prompt: p.string(),
    argv: p.json<string[]>(),
    env: p.json<Record<string, string>>(),
    repoId: p.string(),
    cwd: p.string(),
    state: p.string().$type<TaskStateName>(),
    reason: p.string(),
    pid: p.integer(),
    pidStartTicks: p.integer(),
    bootId: p.string(),
    exitCode: p.integer().nullable(),
    exitSignal: p.string(),
    cancelRequested: p.boolean(),
    outputTail: p.string(),
    runDir: p.string(),
    requestId: p.string().nullable(),
    createdAt: p.datetime(),
    startedAt: p.datetime().nullable(),
    endedAt: p.datetime().nullable(),
    tty: p.boolean(),
    cols: p.integer(),
    rows: p.integer(),
    profile: p.string(),
    activity: p.string().$type<TaskActivityName | ''>(),
    activitySource: p.string().$type<ActivitySource | ''>(),
    activityMessage: p.string(),
    activityAt: p.datetime().nullable(),
    secretHash: p.string(),
    setup: p.boolean(),
  },
});
export type TaskRow = InferEntity<typeof TaskSchema>;

export const LockSchema = defineEntity({
  name: 'LockRow',
  tableName: 'dir_lock',
  properties: {
    directory: p.string().primary(),
    pid: p.integer(),
    pidStartTicks: p.integer(),
    bootId: p.string(),
    owner: p.string(),
    lockedAt: p.datetime(),
  },
});
export type LockRow = InferEntity<typeof LockSchema>;

export const JobSchema = defineEntity({
  name: 'JobRow',
  tableName: 'job',
  properties: {
    id: p.string().primary(),
    kind: p.string().$type<JobKindName>(),
    state: p.string().$type<JobStateName>(),
    repoId: p.string(),
    branch: p.string(),
    base: p.string(),
    sessionId: p.string(),
    sessionIds: p.json<string[]>(),
    idempotencyKey: p.string().nullable(),
    progressPercent: p.integer(),
    progressMessage: p.string(),
    result: p.string(),
    error: p.string(),
    attempts: p.integer(),
    cancelRequested: p.boolean(),
    plan: p.json<LandPlan | Record<string, never>>(),
    createdAt: p.datetime(),
    startedAt: p.datetime().nullable(),
    endedAt: p.datetime().nullable(),
  },
});
export type JobRow = InferEntity<typeof JobSchema>;

export const BranchSchema = defineEntity({
  name: 'BranchRow',
  tableName: 'branch',
  properties: {
    repoId: p.string().primary(),
    name: p.string().primary(),
    parent: p.string(),
    upstream: p.string(),
    head: p.string(),
    registeredAt: p.datetime(),
  },
  primaryKeys: ['repoId', 'name'],
});
export type BranchRow = InferEntity<typeof BranchSchema>;

export const SyncSchema = defineEntity({
  name: 'SyncRow',
  tableName: 'sync',
  properties: {
    repoId: p.string().primary(),
    sessionId: p.string(),
    state: p.string().$type<'OFF' | 'SYNCING' | 'PAUSED'>(),
    causes: p.json<string[]>(),
    syncBranch: p.string(),
    originalBranch: p.string(),
    originalCommit: p.string(),
    stashId: p.string(),
    updatedAt: p.datetime(),
  },
});
export type SyncRow = InferEntity<typeof SyncSchema>;

export const StashSchema = defineEntity({
  name: 'StashRow',
  tableName: 'stash',
  properties: {
    id: p.string().primary(),
    repoId: p.string(),
    ref: p.string(),
    stashCommit: p.string(),
    // Untracked paths at stash time, so they can be recovered even after a manual pop.
    untracked: p.json<string[]>(),
    createdAt: p.datetime(),
  },
});
export type StashRow = InferEntity<typeof StashSchema>;

export const ALL_ENTITIES = [
  SyncSchema,
  StashSchema,
  MetaSchema,
  RepoSchema,
  EventSchema,
  SessionSchema,
  WorktreeSchema,
  TaskSchema,
  LockSchema,
  JobSchema,
  BranchSchema,
];
