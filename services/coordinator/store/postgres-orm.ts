import type { EntitySchema, MigrationObject } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import type { Logger } from '../../common/logging.js';
import { migrate, migrationSettings } from '../../common/sqlite-orm.js';
import { StartupError } from '../../common/startup-error.js';
import type { CoordinatorOrm } from './orm.js';

export interface PostgresOrmOptions {
  /** postgresql://user@host:port/database (a password is better in PGPASSWORD or ~/.pgpass). */
  url: string;
  entities: EntitySchema[];
  migrations: MigrationObject[];
  log: Logger;
}

// Any number: every replica takes the same advisory lock, so two starting at once migrate
// one after the other instead of racing to create the same tables.
const MIGRATION_LOCK = 7421_0001;

/** The URL without its password, for logs and errors. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return 'postgresql://…';
  }
}

/**
 * Opens the coordinators' shared PostgreSQL database and migrates it with the same committed
 * migrations as SQLite. The driver is loaded only here: an embedded coordinator never loads it.
 */
export async function openPostgresOrm(options: PostgresOrmOptions): Promise<CoordinatorOrm> {
  const { MikroORM } = await import('@mikro-orm/postgresql');
  let orm: CoordinatorOrm | undefined;
  try {
    orm = await MikroORM.init({
      clientUrl: options.url,
      entities: options.entities,
      extensions: [Migrator],
      discovery: { warnWhenNoEntities: false },
      allowGlobalContext: false,
      debug: false,
      // A few connections: the coordinator's writes are small, and replicas share the server.
      pool: { min: 0, max: 8 },
      migrations: migrationSettings(options.migrations),
    });
    if (!(await orm.isConnected())) {
      const check = await orm.checkConnection();
      throw new Error(check.ok ? 'not connected' : check.reason);
    }
    const locked = orm;
    await locked.em.fork().transactional(async (em) => {
      await em.execute(`select pg_advisory_xact_lock(${MIGRATION_LOCK})`);
      await migrate(locked, options.log);
    });
    return orm;
  } catch (err) {
    await orm?.close().catch(() => undefined);
    const message = String((err as Error).message ?? err).split('\n')[0]!;
    throw new StartupError(`cannot open the database ${redactedUrl(options.url)}: ${message}`);
  }
}
