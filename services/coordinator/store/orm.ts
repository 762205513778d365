import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/sqlite';
import { openSqliteOrm } from '../../common/sqlite-orm.js';
import type { Logger } from '../../common/logging.js';
import { ALL_ENTITIES } from './entities.js';
import { Migration0001Initial } from './migrations/0001-initial.js';
import { Migration0002Groups } from './migrations/0002-groups.js';
import { Migration0003Webhooks } from './migrations/0003-webhooks.js';

export type CoordinatorOrm = MikroORM;

const MIGRATIONS = [
  { name: '0001-initial', class: Migration0001Initial },
  { name: '0002-groups', class: Migration0002Groups },
  { name: '0003-webhooks', class: Migration0003Webhooks },
];

/** Opens the coordinator database in `dataDir`, migrated to the newest schema. */
export function initOrm(dataDir: string, log: Logger): Promise<CoordinatorOrm> {
  return openSqliteOrm({ file: join(dataDir, 'coordinator.sqlite'), entities: ALL_ENTITIES, migrations: MIGRATIONS, log });
}
