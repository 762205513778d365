import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../services/common/logging.js';
import { EventLog } from '../services/agent/store/event-log.js';
import { initOrm, type AgentOrm } from '../services/agent/store/orm.js';
import { JobSchema, RepoSchema, type JobRow } from '../services/agent/store/entities.js';
import { JobQueue, queuedJobRow } from '../services/agent/jobs/job-queue.js';
import { insertJob, readJob, updateJob } from '../services/agent/store/job-rows.js';
import { Store } from '../services/agent/store/store.js';

const log = createLogger({ level: 'silent' });

describe("the agent's store on a real SQLite file", () => {
  const opened: Array<{ orm: AgentOrm; dir: string }> = [];
  afterEach(async () => {
    for (const { orm, dir } of opened.splice(0)) {
      await orm.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  async function open(): Promise<Store> {
    const dir = mkdtempSync(join(tmpdir(), 'grove-store-'));
    const orm = await initOrm(dir, log);
    opened.push({ orm, dir });
    return new Store(orm, new EventLog(orm, log, 1000));
  }
  const repo = (id: string) => ({
    id,
    name: id,
    path: `/tmp/${id}`,
    defaultBranch: 'main',
    createdAt: new Date(),
    keepIgnored: [],
    setup: '',
    teardown: '',
    copyGlobs: [],
  });

  it('answers reads while a write transaction is open, with what was committed before it', async () => {
    const store = await open();
    await store.transact(async ({ em }) => void em.create(RepoSchema, repo('rep_before')));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    const writing = store.transact(async ({ em }) => {
      em.create(RepoSchema, repo('rep_during'));
      await em.flush();
      inside();
      await held;
    });
    await entered;
    // On one connection this read would wait for the transaction, which waits for the test.
    const seen = await store.read().find(RepoSchema, {}, { orderBy: { id: 'asc' } });
    expect(seen.map((r) => r.id)).toEqual(['rep_before']);
    release();
    await writing;
    expect((await store.read().find(RepoSchema, {}, { orderBy: { id: 'asc' } })).map((r) => r.id)).toEqual(['rep_before', 'rep_during']);
  });

  it("numbers a unit of work's events in the order they were emitted, and keeps none of one that failed", async () => {
    const store = await open();
    const { revision } = await store.commit(async ({ emit }) => {
      for (const id of ['rep_a', 'rep_b', 'rep_c']) emit({ type: 'repo.added', resource: `repos/${id}`, payload: undefined });
    });
    expect(revision).toBe(3);
    const events = await store.events.readAfter(0);
    expect(events.map((e) => [e.revision, e.resource])).toEqual([
      [1, 'repos/rep_a'],
      [2, 'repos/rep_b'],
      [3, 'repos/rep_c'],
    ]);
    await expect(
      store.transact(async ({ emit }) => {
        emit({ type: 'repo.added', resource: 'repos/rep_lost', payload: undefined });
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await store.events.bounds()).toEqual({ oldest: 1, newest: 3 });
    expect((await store.events.readAfter(3)).length).toBe(0);
    expect(
      (await store.commit(async ({ emit }) => emit({ type: 'repo.removed', resource: 'repos/rep_a', payload: undefined }))).revision,
    ).toBe(4);
  });

  const queuedJob = (id: string): JobRow => ({
    ...queuedJobRow({ kind: 'sync_repo', repoId: 'rep_x', branch: '', base: '', sessionId: '', sessionIds: [], idempotencyKey: null }),
    id,
  });

  it('commits a plain unit of work with its events, and keeps nothing of one that failed', async () => {
    const store = await open();
    await store.write(async ({ sql, emit }) => {
      await insertJob(sql, queuedJob('job_kept'));
      emit({ type: 'job.queued', resource: 'jobs/job_kept', payload: undefined });
      emit({ type: 'job.started', resource: 'jobs/job_kept', payload: undefined });
    });
    await expect(
      store.write(async ({ sql, emit }) => {
        await insertJob(sql, queuedJob('job_lost'));
        emit({ type: 'job.queued', resource: 'jobs/job_lost', payload: undefined });
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    // A statement SQLite refuses (the same id again) rolls back the statements before it too.
    await expect(
      store.write(async ({ sql }) => {
        await updateJob(sql, 'job_kept', { progressMessage: 'changed' });
        await insertJob(sql, queuedJob('job_kept'));
      }),
    ).rejects.toThrow(/UNIQUE/);
    expect((await store.read().find(JobSchema, {})).map((j) => [j.id, j.progressMessage])).toEqual([['job_kept', 'queued']]);
    expect((await store.events.readAfter(0)).map((e) => [e.revision, e.type])).toEqual([
      [1, 'job.queued'],
      [2, 'job.started'],
    ]);
    expect(await store.events.bounds()).toEqual({ oldest: 1, newest: 2 });
    // The connection went back to the pool in a clean state: ORM and plain work both go on.
    await store.transact(async ({ em, emit }) => {
      em.create(RepoSchema, repo('rep_after'));
      emit({ type: 'repo.added', resource: 'repos/rep_after', payload: undefined });
    });
    expect((await store.events.readAfter(2)).map((e) => e.revision)).toEqual([3]);
  });

  it('runs plain and ORM units of work one at a time on the writer, in the order they asked', async () => {
    const store = await open();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    const order: string[] = [];
    const orm = store.transact(async ({ em, emit }) => {
      em.create(RepoSchema, repo('rep_first'));
      emit({ type: 'repo.added', resource: 'repos/rep_first', payload: undefined });
      await em.flush();
      inside();
      await held;
      order.push('orm');
    });
    await entered;
    const plain = store.write(async ({ sql, emit }) => {
      order.push('plain');
      await insertJob(sql, queuedJob('job_second'));
      emit({ type: 'job.queued', resource: 'jobs/job_second', payload: undefined });
    });
    release();
    await Promise.all([orm, plain]);
    // 'plain' first would mean it ran while the ORM transaction held the writer.
    expect(order).toEqual(['orm', 'plain']);
    expect((await store.events.readAfter(0)).map((e) => e.resource)).toEqual(['repos/rep_first', 'jobs/job_second']);
  });

  it('queues one job for two submissions racing with one idempotency key', async () => {
    const store = await open();
    const queue = new JobQueue(store);
    let woken = 0;
    queue.onQueued(() => woken++);
    const fields = {
      kind: 'sync_repo' as const,
      repoId: 'rep_x',
      branch: '',
      base: '',
      sessionId: '',
      sessionIds: [],
      idempotencyKey: 'k-race',
    };
    const [a, b] = await Promise.all([queue.enqueue(fields), queue.enqueue(fields)]);
    expect(a.job.id).toBe(b.job.id);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(await store.read().count(JobSchema, {})).toBe(1);
    expect(woken).toBe(1);
    expect((await store.events.readAfter(0)).map((e) => e.type)).toEqual(['job.queued']);
  });

  it('stores a job by hand exactly as the entity does, so either reads what the other wrote', async () => {
    const store = await open();
    // A distinct value in every column, so a column mapped to the wrong field shows.
    const job: JobRow = {
      id: 'job_byhand',
      kind: 'land_session',
      state: 'QUEUED',
      repoId: 'rep_x',
      branch: 'main',
      base: 'squash',
      sessionId: 'ses_x',
      sessionIds: ['ses_a', 'ses_b'],
      idempotencyKey: null,
      progressPercent: 42,
      progressMessage: 'integrating',
      result: 'half done',
      error: 'not yet',
      attempts: 3,
      cancelRequested: false,
      plan: { target: 'main', strategy: 'squash', push: true },
      createdAt: new Date(1_700_000_000_123),
      startedAt: new Date(1_700_000_000_456),
      endedAt: null,
    };
    await store.write(async ({ sql }) => insertJob(sql, job));
    const plain = (row: JobRow | null | undefined) => (row ? { ...row } : row);
    expect(plain(await store.read().findOne(JobSchema, { id: job.id }))).toEqual(job);

    const changes = {
      state: 'RUNNING' as const,
      attempts: 1,
      cancelRequested: true,
      startedAt: new Date(1_700_000_001_000),
      idempotencyKey: 'k1',
    };
    await store.write(async ({ sql }) => updateJob(sql, job.id, changes));
    expect(plain(await store.read().findOne(JobSchema, { id: job.id }))).toEqual({ ...job, ...changes });

    // And the entity's writes read back by hand.
    await store.transact(async ({ em }) => {
      const row = await em.findOneOrFail(JobSchema, { id: job.id });
      Object.assign(row, { state: 'FAILED', endedAt: new Date(1_700_000_002_000), error: 'boom', cancelRequested: false });
    });
    expect(await store.write(async ({ sql }) => readJob(sql, job.id))).toEqual({
      ...job,
      ...changes,
      state: 'FAILED',
      endedAt: new Date(1_700_000_002_000),
      error: 'boom',
      cancelRequested: false,
    });
    expect(await store.write(async ({ sql }) => readJob(sql, 'job_none'))).toBeUndefined();
  });
});
