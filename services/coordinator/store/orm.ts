import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/core';
import { BaseSqlitePlatform, type AbstractSqlDriver, type SqlEntityManager } from '@mikro-orm/knex';
import { openSqliteOrm } from '../../common/sqlite-orm.js';
import type { Logger } from '../../common/logging.js';
import { ALL_ENTITIES } from './entities.js';
import { Migration0001Initial } from './migrations/0001-initial.js';
import { Migration0002Groups } from './migrations/0002-groups.js';
import { Migration0003Webhooks } from './migrations/0003-webhooks.js';
import { Migration0004OutboxLeases } from './migrations/0004-outbox-leases.js';
import { openPostgresOrm } from './postgres-orm.js';

/** The coordinator's database: SQLite in its data dir (embedded), or a PostgreSQL shared by replicas. */
export type CoordinatorOrm = MikroORM<AbstractSqlDriver, SqlEntityManager>;

export type SqlDialect = 'sqlite' | 'postgresql';

const MIGRATIONS = [
  { name: '0001-initial', class: Migration0001Initial },
  { name: '0002-groups', class: Migration0002Groups },
  { name: '0003-webhooks', class: Migration0003Webhooks },
  { name: '0004-outbox-leases', class: Migration0004OutboxLeases },
];

/** `--db`: a postgresql:// (or postgres://) URL; anything else is refused before start-up. */
export function checkDbUrl(text: string): string {
  if (!/^postgres(ql)?:\/\//.test(text)) {
    throw new Error(`--db takes a postgresql:// URL, not "${text.slice(0, 40)}" (SQLite in --data-dir is the default)`);
  }
  try {
    new URL(text);
  } catch {
    throw new Error('--db is not a well-formed postgresql:// URL');
  }
  return text;
}

/**
 * Opens the coordinator database, migrated to the newest schema: PostgreSQL when `dbUrl` is
 * given, else `coordinator.sqlite` in `dataDir`.
 */
export async function initOrm(dataDir: string, log: Logger, dbUrl?: string): Promise<CoordinatorOrm> {
  if (dbUrl) return openPostgresOrm({ url: dbUrl, entities: ALL_ENTITIES, migrations: MIGRATIONS, log });
  return (await openSqliteOrm({
    file: join(dataDir, 'coordinator.sqlite'),
    entities: ALL_ENTITIES,
    migrations: MIGRATIONS,
    log,
  })) as unknown as CoordinatorOrm;
}

/** Which SQL the database speaks, for the few statements written by hand. */
export function dialectOf(orm: Pick<CoordinatorOrm, 'em'>): SqlDialect {
  return orm.em.getPlatform() instanceof BaseSqlitePlatform ? 'sqlite' : 'postgresql';
}
