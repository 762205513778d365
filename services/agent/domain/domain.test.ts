import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { branchNameProblem } from '../../common/branch-name.js';
import { isDirty, parsePorcelainStatus } from './dirtiness.js';
import { workReasons } from './worktree-teardown.js';
import { nextWorktreeState, sessionStateFor, setupStateFor, type WorktreeTransition } from './worktree-lifecycle.js';
import type { WorktreeStateName } from '../store/entities.js';
import { afterRestart, nextJobState, pickNextJob, stackOrder, type JobMove, type JobStateName } from './job-kinds.js';
import { finalTaskState, nextTaskState, type TaskMove, type TaskStateName } from './task-lifecycle.js';

describe('branchNameProblem agrees with git check-ref-format --branch', () => {
  const names = [
    'main',
    'feature/x',
    'a-b_c.d',
    'v1.2',
    'user/topic/sub',
    'ünïcode',
    '',
    '-x',
    'a..b',
    'a b',
    'x.lock',
    'a/x.lock/b',
    'a:b',
    'a~1',
    'a^',
    'a?',
    'a*',
    'a[b',
    'a\\b',
    '.hidden',
    'a/.b',
    'end/',
    '/start',
    'a//b',
    'a@{1}',
    'end.',
    'tab\tname',
  ];
  for (const name of names) {
    it(JSON.stringify(name), () => {
      let gitAccepts = true;
      try {
        execFileSync('git', ['check-ref-format', '--branch', name], { stdio: 'ignore' });
      } catch {
        gitAccepts = false;
      }
      expect(branchNameProblem(name) === undefined).toBe(gitAccepts);
    });
  }
});

it('refuses "@", which git --branch would expand to the current branch', () => {
  expect(branchNameProblem('@')).toBe("is '@'");
});

describe('parsePorcelainStatus', () => {
  it('sorts entries into staged, tracked and untracked', () => {
    const out = [
      'M  staged.txt',
      ' M worktree.txt',
      'MM both.txt',
      '?? new.txt',
      'R  new-name.txt',
      'old-name.txt',
      'A  added.txt',
      ' D gone.txt',
      '',
    ].join('\0');
    const d = parsePorcelainStatus(out);
    expect(d.staged).toEqual(['staged.txt', 'both.txt', 'new-name.txt', 'added.txt']);
    expect(d.tracked).toEqual(['worktree.txt', 'both.txt', 'gone.txt']);
    expect(d.untracked).toEqual(['new.txt']);
    expect(isDirty(d)).toBe(true);
    const changes = { ...d, hidden: [], keptIgnored: [], ignored: [] };
    const f = {
      repoId: 'r',
      repoName: 'r',
      path: '/p',
      removalBegun: false,
      exists: true,
      processes: [],
      changes,
      nested: [],
      unreferencedCommits: 0,
    };
    expect(workReasons(f).map((r) => r.reason)).toEqual(['DIRTY_STAGED', 'DIRTY_TRACKED', 'DIRTY_UNTRACKED']);
  });
  it('is clean for empty output', () => {
    expect(isDirty(parsePorcelainStatus(''))).toBe(false);
  });
});

describe('worktree lifecycle', () => {
  const table: Array<[WorktreeStateName, WorktreeTransition, WorktreeStateName | undefined]> = [
    ['ACTIVE', 'kill', 'REMOVED'],
    ['REMOVED', 'kill', undefined],
    ['UNAVAILABLE', 'kill', undefined],
    ['RETRY_REMOVE', 'kill', undefined],
    ['ACTIVE', 'cleanup_clean', 'REMOVED'],
    ['RETRY_REMOVE', 'cleanup_clean', 'REMOVED'],
    ['REMOVED', 'cleanup_clean', undefined],
    ['ACTIVE', 'cleanup_preserved', 'UNAVAILABLE'],
    ['RETRY_REMOVE', 'cleanup_preserved', 'UNAVAILABLE'],
    ['UNAVAILABLE', 'cleanup_preserved', undefined],
    ['ACTIVE', 'removal_failed', 'RETRY_REMOVE'],
    ['RETRY_REMOVE', 'removal_failed', 'RETRY_REMOVE'],
    ['REMOVED', 'removal_failed', undefined],
    ['REMOVED', 'restore', 'ACTIVE'],
    ['UNAVAILABLE', 'restore', 'ACTIVE'],
    ['ACTIVE', 'restore', undefined],
    ['RETRY_REMOVE', 'restore', undefined],
    ['ACTIVE', 'removal_started', 'RETRY_REMOVE'],
    ['RETRY_REMOVE', 'removal_started', undefined],
    ['REMOVED', 'removal_started', undefined],
    ['RETRY_REMOVE', 'removal_refused', 'ACTIVE'],
    ['ACTIVE', 'removal_refused', undefined],
    ['RETRY_REMOVE', 'removal_finished', 'REMOVED'],
    ['ACTIVE', 'removal_finished', undefined],
  ];
  it.each(table)('%s --%s--> %s', (from, transition, to) => {
    expect(nextWorktreeState(from, transition)).toBe(to);
  });

  it('derives the session state from its rows', () => {
    expect(sessionStateFor('ACTIVE', ['ACTIVE', 'REMOVED'])).toBe('ACTIVE');
    expect(sessionStateFor('ACTIVE', ['REMOVED', 'UNAVAILABLE'])).toBe('STOPPED');
    expect(sessionStateFor('ACTIVE', ['RETRY_REMOVE'])).toBe('STOPPED');
    expect(sessionStateFor('STOPPED', ['ACTIVE'])).toBe('ACTIVE');
    expect(sessionStateFor('ARCHIVED', ['ACTIVE'])).toBe('ARCHIVED');
    expect(sessionStateFor('PENDING_BRANCH', [])).toBe('PENDING_BRANCH');
  });
});

describe('job scheduling rules', () => {
  const at = (id: string, repoId: string, t: number) => ({ id, repoId, createdAt: new Date(t) });
  it('picks the oldest job whose repo is free, within the concurrency bound', () => {
    const queued = [at('j3', 'r1', 3), at('j1', 'r1', 1), at('j2', 'r2', 2), at('j4', '', 4)];
    expect(pickNextJob(queued, new Set(), 0, 2)?.id).toBe('j1');
    expect(pickNextJob(queued, new Set(['r1']), 1, 2)?.id).toBe('j2');
    expect(pickNextJob(queued, new Set(['r1', 'r2']), 1, 3)?.id).toBe('j4'); // repo-less jobs never wait on a repo
    expect(pickNextJob(queued, new Set(), 2, 2)).toBeUndefined();
  });
  it('retries only idempotent kinds after a restart', () => {
    expect(afterRestart('sync_repo')).toEqual({ state: 'QUEUED', error: '' });
    expect(afterRestart('register_branch').state).toBe('QUEUED');
    for (const kind of ['rebase_branch', 'restack_branch', 'reparent_branch', 'cleanup_session', 'restore_sessions'] as const) {
      expect(afterRestart(kind)).toEqual({ state: 'FAILED', error: 'interrupted by agent restart' });
    }
  });
  it('orders a stack parents first and survives cycles', () => {
    const parents = new Map([
      ['b', 'a'],
      ['c', 'b'],
      ['d', 'a'],
      ['a', 'main'],
    ]);
    expect(stackOrder('a', parents)).toEqual(['a', 'b', 'c', 'd']);
    expect(
      stackOrder(
        'x',
        new Map([
          ['x', 'y'],
          ['y', 'x'],
        ]),
      ),
    ).toEqual(['x', 'y']);
  });
});

describe('task lifecycle', () => {
  it.each<[TaskStateName, TaskMove, TaskStateName | 'refused']>([
    ['QUEUED', 'launch', 'RUNNING'],
    ['RUNNING', 'launch', 'refused'],
    ['CANCELLED', 'launch', 'refused'],
    ['QUEUED', 'cancel_queued', 'CANCELLED'],
    ['RUNNING', 'cancel_queued', 'refused'],
    ['SUCCEEDED', 'cancel_queued', 'refused'],
  ])('%s --%s--> %s', (from, move, to) => {
    if (to === 'refused') expect(() => nextTaskState(from, move)).toThrow(/not allowed/);
    else expect(nextTaskState(from, move)).toBe(to);
  });

  it.each<[Parameters<typeof finalTaskState>[0], boolean, boolean, string, string]>([
    [{ kind: 'exited', code: 0, signal: null }, false, false, 'SUCCEEDED', ''],
    [{ kind: 'exited', code: 3, signal: null }, false, false, 'FAILED', 'exited with code 3'],
    [{ kind: 'exited', code: null, signal: 'SIGKILL' }, false, false, 'FAILED', 'killed by SIGKILL'],
    [{ kind: 'exited', code: null, signal: 'SIGTERM' }, true, false, 'CANCELLED', 'cancelled on request'],
    [{ kind: 'vanished' }, false, true, 'INTERRUPTED', 'agent restarted; process gone'],
    [
      { kind: 'runner_died' },
      false,
      false,
      'INTERRUPTED',
      'the runner died (killed, or out of memory); the processes it left were stopped',
    ],
    [{ kind: 'never_started', why: 'locked' }, false, false, 'FAILED', 'locked'],
  ])('ends %j (cancel asked: %s, after restart: %s) as %s', (outcome, cancelled, restarted, state, reason) => {
    expect(finalTaskState(outcome, cancelled, restarted)).toEqual({ state, reason });
  });
});

describe('job lifecycle', () => {
  it.each<[JobStateName, JobMove, JobStateName | undefined]>([
    ['QUEUED', 'start', 'RUNNING'],
    ['RUNNING', 'start', undefined],
    ['RUNNING', 'succeed', 'SUCCEEDED'],
    ['QUEUED', 'succeed', undefined],
    ['RUNNING', 'fail', 'FAILED'],
    ['SUCCEEDED', 'fail', undefined],
    ['QUEUED', 'cancel', 'CANCELLED'],
    ['RUNNING', 'cancel', 'CANCELLED'],
    ['FAILED', 'cancel', undefined],
    ['RUNNING', 'requeue', 'QUEUED'],
    ['CANCELLED', 'requeue', undefined],
  ])('%s --%s--> %s', (from, move, to) => {
    expect(nextJobState(from, move)).toBe(to);
  });
});

describe('setup: a session set up by its setup tasks', () => {
  it('is ACTIVE only once every setup task succeeded, SETUP_FAILED as soon as one ended otherwise', () => {
    expect(setupStateFor(['QUEUED'])).toBe('SETTING_UP');
    expect(setupStateFor(['SUCCEEDED', 'RUNNING'])).toBe('SETTING_UP');
    expect(setupStateFor(['SUCCEEDED', 'SUCCEEDED'])).toBe('ACTIVE');
    // A half-run setup (the agent crashed and the runner with it) is not a set-up worktree.
    for (const ended of ['FAILED', 'CANCELLED', 'INTERRUPTED'] as const)
      expect(setupStateFor(['SUCCEEDED', ended, 'QUEUED'])).toBe('SETUP_FAILED');
  });

  it('keeps SETTING_UP and SETUP_FAILED while a worktree is on disk, and ends in STOPPED once none is', () => {
    for (const state of ['SETTING_UP', 'SETUP_FAILED'] as const) {
      expect(sessionStateFor(state, ['ACTIVE'])).toBe(state);
      expect(sessionStateFor(state, ['REMOVED', 'UNAVAILABLE'])).toBe('STOPPED');
    }
  });
});
