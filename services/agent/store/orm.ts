import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/sqlite';
import { openSqliteOrm } from '../../common/sqlite-orm.js';
import type { Logger } from '../../common/logging.js';
import { ALL_ENTITIES } from './entities.js';
import { Migration0001Initial } from './migrations/0001-initial.js';
import { Migration0002Sessions } from './migrations/0002-sessions.js';
import { Migration0003Tasks } from './migrations/0003-tasks.js';
import { Migration0004Jobs } from './migrations/0004-jobs.js';
import { Migration0005PendingBranch } from './migrations/0005-pending-branch.js';
import { Migration0006Sync } from './migrations/0006-sync.js';
import { Migration0007Teardown } from './migrations/0007-teardown.js';
import { Migration0008Terminals } from './migrations/0008-terminals.js';
import { Migration0009Land } from './migrations/0009-land.js';
import { Migration0010Ports } from './migrations/0010-ports.js';
import { Migration0011Setup } from './migrations/0011-setup.js';

export type AgentOrm = MikroORM;

const MIGRATIONS = [
  { name: '0001-initial', class: Migration0001Initial },
  { name: '0002-sessions', class: Migration0002Sessions },
  { name: '0003-tasks', class: Migration0003Tasks },
  { name: '0004-jobs', class: Migration0004Jobs },
  { name: '0005-pending-branch', class: Migration0005PendingBranch },
  { name: '0006-sync', class: Migration0006Sync },
  { name: '0007-teardown', class: Migration0007Teardown },
  { name: '0008-terminals', class: Migration0008Terminals },
  { name: '0009-land', class: Migration0009Land },
  { name: '0010-ports', class: Migration0010Ports },
  { name: '0011-setup', class: Migration0011Setup },
];

/** Opens the agent database in `dataDir`, migrated to the newest schema. */
export function initOrm(dataDir: string, log: Logger): Promise<AgentOrm> {
  return openSqliteOrm({ file: join(dataDir, 'agent.sqlite'), entities: ALL_ENTITIES, migrations: MIGRATIONS, log });
}
