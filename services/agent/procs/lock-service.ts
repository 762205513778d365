import type { Lock } from '../../../gen/grove/agent/v1/resources.js';
import { failedPrecondition, invalidArgument, notFound } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import { LockSchema, type LockRow } from '../store/entities.js';
import type { Store, Tx } from '../store/store.js';
import { lockResource, toLockProto } from './lock-mapper.js';
import { probeTaskProcesses, type ProcessIdentity } from './proc-info.js';

/**
 * Directory locks decided by probing the holder process (pid + start time + boot id + cwd),
 * never by trusting session or task bookkeeping. A holder is a task's runner: while its
 * process group lives on after it (a runner killed by the OOM killer) the lock still holds.
 * A dead holder's lock is released the moment anyone looks at it, with an event saying why.
 */
export class LockService {
  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  /** The live holder of `directory`'s lock, releasing a dead one on the spot. */
  async liveHolder(directory: string): Promise<LockRow | undefined> {
    const row = await this.store.read().findOne(LockSchema, { directory });
    if (!row) return undefined;
    const liveness = probeTaskProcesses(row, directory);
    if (liveness.alive) return row;
    await this.store.transact(async (tx) => this.releaseIn(tx, row, `holder is dead: ${liveness.why}`));
    return undefined;
  }

  /** Refuses with FAILED_PRECONDITION naming the holder when a live process holds the lock. */
  async ensureFree(directory: string, allowOwner?: (owner: string) => boolean): Promise<void> {
    const holder = await this.liveHolder(directory);
    if (holder && !allowOwner?.(holder.owner)) {
      throw failedPrecondition('DIRECTORY_LOCKED', `${directory} is locked by pid ${holder.pid} (${holder.owner})`);
    }
  }

  /** Records a lock in the caller's transaction (the caller has checked it is free). */
  acquireIn(tx: Tx, directory: string, holder: ProcessIdentity, owner: string): void {
    const row = tx.em.create(LockSchema, { directory, ...holder, owner, lockedAt: new Date() });
    tx.emit({ type: 'lock.acquired', resource: lockResource(directory), payload: { $case: 'lock', value: toLockProto(row) } });
  }

  /** Releases the lock `pid` holds on `directory`, if it still does (a task ending). */
  async releaseHeldIn(tx: Tx, directory: string, pid: number, why: string): Promise<void> {
    const row = await tx.em.findOne(LockSchema, { directory, pid });
    if (row) await this.releaseIn(tx, row, why);
  }

  async releaseIn(tx: Tx, row: LockRow, why: string): Promise<void> {
    const deleted = await tx.em.nativeDelete(LockSchema, { directory: row.directory, pid: row.pid });
    if (deleted === 0) return;
    tx.emit({
      type: 'lock.released',
      resource: lockResource(row.directory),
      deleted: true,
      payload: { $case: 'lock', value: toLockProto(row) },
    });
    this.log.info({ directory: row.directory, pid: row.pid, owner: row.owner, why }, 'lock released');
  }

  async list(): Promise<Lock[]> {
    const rows = await this.store.read().find(LockSchema, {}, { orderBy: { directory: 'asc' } });
    return rows.map(toLockProto);
  }

  /** A person's release: refused while the holder lives unless forced (and then logged loudly). */
  async release(directory: string, force: boolean): Promise<boolean> {
    if (!directory) throw invalidArgument('DIRECTORY_REQUIRED', 'a locked directory is required');
    const row = await this.store.read().findOne(LockSchema, { directory });
    if (!row) throw notFound('LOCK_NOT_FOUND', `no lock on ${directory}`);
    const liveness = probeTaskProcesses(row, directory);
    if (liveness.alive && !force) {
      throw failedPrecondition('HOLDER_ALIVE', `pid ${row.pid} (${row.owner}) still works in ${directory}; use force to release anyway`);
    }
    if (liveness.alive) this.log.warn({ directory, pid: row.pid, owner: row.owner }, 'lock force-released while its holder lives');
    await this.store.transact(async (tx) =>
      this.releaseIn(tx, row, liveness.alive ? 'forced by a person' : `holder is dead: ${liveness.why}`),
    );
    return true;
  }

  /** Start-up: releases every lock whose holder is gone. */
  async releaseDead(): Promise<number> {
    let released = 0;
    for (const row of await this.store.read().find(LockSchema, {})) {
      const liveness = probeTaskProcesses(row, row.directory);
      if (liveness.alive) continue;
      await this.store.transact(async (tx) => this.releaseIn(tx, row, `holder is dead: ${liveness.why}`));
      released++;
    }
    return released;
  }
}
