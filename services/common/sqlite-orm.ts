import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { EntitySchema, MigrationObject } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/sqlite';
import type { Logger } from './logging.js';
import { StartupError } from './startup-error.js';

export interface SqliteOrmOptions {
  file: string;
  entities: EntitySchema[];
  /** The committed migrations, oldest first. */
  migrations: MigrationObject[];
  log: Logger;
}

type RawConnection = { exec(sql: string, cb: (err: Error | null) => void): void };

/** How every service runs its committed migrations: each in a transaction, all or nothing. */
export function migrationSettings(migrations: MigrationObject[]) {
  return { migrationsList: migrations, transactional: true, allOrNothing: true, snapshot: false, silent: true };
}

/** Brings the schema up to date; logs what ran. */
export async function migrate(orm: Pick<MikroORM, 'getMigrator'>, log: Logger): Promise<void> {
  const executed = await orm.getMigrator().up();
  if (executed.length > 0) log.info({ migrations: executed.map((m) => m.name) }, 'database migrated');
}

/**
 * Opens (creating if needed) a service's SQLite database and brings its schema up to date
 * with the committed migrations: WAL, foreign keys on, fsync on commit (state that protects
 * user work must survive power loss too), and one connection. SQLite has one writer anyway,
 * and a single connection makes commit order equal the order of writes (the agent's event
 * revisions rely on it).
 */
export async function openSqliteOrm(options: SqliteOrmOptions): Promise<MikroORM> {
  try {
    return await openAndMigrate(options);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why =
      code === 'SQLITE_NOTADB' ? 'it is not a SQLite database' : code ? `${code}: ${(err as Error).message}` : (err as Error).message;
    throw new StartupError(`cannot open the database ${options.file}: ${why}`);
  }
}

async function openAndMigrate(options: SqliteOrmOptions): Promise<MikroORM> {
  mkdirSync(dirname(options.file), { recursive: true });
  const orm = await MikroORM.init({
    dbName: options.file,
    entities: options.entities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: false,
    debug: false,
    pool: {
      min: 1,
      max: 1,
      idleTimeoutMillis: 2 ** 31 - 1,
      afterCreate: (conn: RawConnection, done: (err: Error | null, conn: unknown) => void) => {
        conn.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;', (err) =>
          done(err, conn),
        );
      },
    },
    // Reads outside a transaction take a second connection to the same file: in WAL they
    // see every commit made before they began and never wait for a write (its statements and
    // fsync). Writes stay on the one connection, so commit order is still the order of writes.
    replicas: [{ name: 'read' }],
    migrations: migrationSettings(options.migrations),
  });
  await migrate(orm, options.log);
  return orm;
}
