import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MikroORM } from '@mikro-orm/sqlite';
import { Migrator } from '@mikro-orm/migrations';
import type { Logger } from '../../common/logging.js';
import { ALL_ENTITIES } from './entities.js';
import { Migration0001Initial } from './migrations/0001-initial.js';
import { Migration0002Sessions } from './migrations/0002-sessions.js';
import { Migration0003Tasks } from './migrations/0003-tasks.js';
import { Migration0004Jobs } from './migrations/0004-jobs.js';
import { Migration0005PendingBranch } from './migrations/0005-pending-branch.js';
import { Migration0006Sync } from './migrations/0006-sync.js';

export type AgentOrm = MikroORM;

const MIGRATIONS = [
  { name: '0001-initial', class: Migration0001Initial },
  { name: '0002-sessions', class: Migration0002Sessions },
  { name: '0003-tasks', class: Migration0003Tasks },
  { name: '0004-jobs', class: Migration0004Jobs },
  { name: '0005-pending-branch', class: Migration0005PendingBranch },
  { name: '0006-sync', class: Migration0006Sync },
];

/**
 * Opens (creating if needed) the agent database in `dataDir` and brings its schema up to
 * date with the committed migrations. One connection: SQLite has one writer anyway, and a
 * single connection makes the event log's commit order equal its revision order.
 */
export async function initOrm(dataDir: string, log: Logger): Promise<AgentOrm> {
  mkdirSync(dataDir, { recursive: true });
  const orm = await MikroORM.init({
    dbName: join(dataDir, 'agent.sqlite'),
    entities: ALL_ENTITIES,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: false,
    debug: false,
    pool: {
      min: 1,
      max: 1,
      idleTimeoutMillis: 2 ** 31 - 1,
      afterCreate: (conn: { exec(sql: string, cb: (err: Error | null) => void): void }, done: (err: Error | null, conn: unknown) => void) => {
        conn.exec(
          'PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;',
          (err) => done(err, conn),
        );
      },
    },
    migrations: {
      migrationsList: MIGRATIONS,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
  });
  const executed = await orm.getMigrator().up();
  if (executed.length > 0) {
    log.info({ migrations: executed.map((m) => m.name) }, 'database migrated');
  }
  return orm;
}
