import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from 'sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../services/common/logging.js';
import { RepoService } from '../services/agent/repos/repo-service.js';
import { EventLog } from '../services/agent/store/event-log.js';
import { initOrm, type AgentOrm } from '../services/agent/store/orm.js';
import { Store } from '../services/agent/store/store.js';
import { makeRepo } from './helpers/git-repo.js';
import { tempDir } from './helpers/temp.js';

const log = createLogger({ level: 'silent' });

describe('repo lookups, answered from memory', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function open() {
    const dir = tempDir('grove-repos-');
    cleanups.push(dir.remove);
    const orm: AgentOrm = await initOrm(join(dir.path, 'agent'), log);
    cleanups.push(() => orm.close());
    const worktrees = join(dir.path, 'worktrees');
    mkdirSync(worktrees);
    const repos = new RepoService(new Store(orm, new EventLog(orm, log, 1000)), log, async () => 0, worktrees);
    // Every statement the reader connection runs (lookups read there).
    const pool = orm.em.getConnection('read').getKnex().client as {
      acquireConnection(): Promise<Database>;
      releaseConnection(db: Database): Promise<void>;
    };
    const reader = await pool.acquireConnection();
    const statements: string[] = [];
    reader.on('trace', (sql) => statements.push(sql));
    await pool.releaseConnection(reader);
    return { repos, statements, path: (name: string) => makeRepo(join(dir.path, name)) };
  }

  it('reads no database on a hit, and sees every add, update and removal at once', async () => {
    const { repos, statements, path } = await open();
    const { repo: alpha } = await repos.add(path('alpha'), '');
    expect((await repos.find(alpha.id)).name).toBe('alpha');
    statements.length = 0;
    expect((await repos.find('alpha')).id).toBe(alpha.id);
    expect((await repos.find(alpha.id)).path).toBe(alpha.path);
    expect(statements).toEqual([]);

    await repos.update('alpha', { keepIgnored: ['.env'], setup: '', teardown: '', copy: [] }, ['keep_ignored']);
    expect((await repos.find('alpha')).keepIgnored).toEqual(['.env']);
    const { repo: beta } = await repos.add(path('beta'), '');
    expect((await repos.find('beta')).id).toBe(beta.id);
    await repos.remove(alpha.id);
    await expect(repos.find(alpha.id)).rejects.toMatchObject({ reason: 'REPO_NOT_FOUND' });
    await expect(repos.find('alpha')).rejects.toMatchObject({ reason: 'REPO_NOT_FOUND' });
    expect((await repos.find(beta.id)).name).toBe('beta');
  });

  it('hands out rows nobody can change behind the registry', async () => {
    const { repos, path } = await open();
    const { repo } = await repos.add(path('gamma'), '', { keepIgnored: ['.env'] });
    const row = await repos.find(repo.id);
    expect(() => Object.assign(row, { path: '/elsewhere' })).toThrow(TypeError);
    expect(() => row.keepIgnored.push('secret')).toThrow(TypeError);
    expect((await repos.find(repo.id)).path).toBe(repo.path);
    expect((await repos.find(repo.id)).keepIgnored).toEqual(['.env']);
  });
});
