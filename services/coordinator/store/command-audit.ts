import type { Logger } from '../../common/logging.js';
import { CommandAuditSchema } from './entities.js';
import type { CoordinatorOrm } from './orm.js';

export interface AuditedCommand {
  requestId: string;
  agentId: string;
  method: string;
  requestedAt: Date;
}

/** Who was asked to do what, and how it ended: a row per command sent over a link. */
export class CommandAudit {
  constructor(
    private readonly orm: CoordinatorOrm,
    private readonly log: Logger,
  ) {}

  /** Written before the command leaves, so a command the coordinator crashed under still shows. */
  async sent(command: AuditedCommand): Promise<void> {
    const em = this.orm.em.fork();
    em.create(CommandAuditSchema, { ...command, code: null, reason: null, completedAt: null });
    await em.flush();
  }

  /** Best effort: the command already ran, and failing its caller now would only mislead. */
  async completed(requestId: string, code: number, reason: string, completedAt: Date): Promise<void> {
    try {
      await this.orm.em.fork().nativeUpdate(CommandAuditSchema, { requestId }, { code, reason: reason || null, completedAt });
    } catch (err) {
      this.log.error({ err, requestId, code }, 'could not record a command result');
    }
  }
}
