import type { Lock } from '../../../gen/grove/agent/v1/resources.js';
import type { LockRow } from '../store/entities.js';
import { resourceName } from '../domain/event-types.js';

export const lockResource = (directory: string) => resourceName('locks', encodeURIComponent(directory));

export function toLockProto(row: LockRow): Lock {
  return {
    directory: row.directory,
    pid: row.pid,
    pidStartTicks: row.pidStartTicks,
    bootId: row.bootId,
    owner: row.owner,
    lockTime: row.lockedAt,
  };
}
