import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MikroORM } from '@mikro-orm/sqlite';
import { Migrator } from '@mikro-orm/migrations';
import type { Logger } from '../../common/logging.js';
import { ALL_ENTITIES } from './entities.js';
import { Migration0001Initial } from './migrations/0001-initial.js';

export type CoordinatorOrm = MikroORM;

const MIGRATIONS = [{ name: '0001-initial', class: Migration0001Initial }];

/**
 * Opens (creating if needed) the coordinator database in `dataDir` and brings its schema up
 * to date with the committed migrations. One connection: SQLite has one writer anyway, and
 * the registry's writes are small and few.
 */
export async function initOrm(dataDir: string, log: Logger): Promise<CoordinatorOrm> {
  mkdirSync(dataDir, { recursive: true });
  const orm = await MikroORM.init({
    dbName: join(dataDir, 'coordinator.sqlite'),
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
