import { Status } from 'nice-grpc-common';
import { describe, expect, it } from 'vitest';
import type { ConnectResponse } from '../../../gen/grove/link/v1/link.js';
import { LinkSession } from './link-session.js';

/** The commands the session put on the wire so far. */
async function sentCommands(session: LinkSession, count: number) {
  const sent: ConnectResponse[] = [];
  for await (const message of session.outbox.drain()) {
    sent.push(message);
    if (sent.length === count) break;
  }
  return sent.map((m) => (m.message?.$case === 'command' ? m.message.value : undefined));
}

const ok = (requestId: string) => ({ requestId, code: 0, message: '', reason: '', response: Buffer.from([1, 2]) });

describe('LinkSession', () => {
  it('sends a command with its deadline and resolves with the matching result', async () => {
    const session = new LinkSession('agt_1', new Date());
    const before = Date.now();
    const pending = session.command('cmd_1', 'GetAgentInfo', Uint8Array.from([9]), 5000);
    const [command] = await sentCommands(session, 1);
    expect(command).toMatchObject({ requestId: 'cmd_1', method: 'GetAgentInfo', request: Buffer.from([9]) });
    expect(command!.deadline!.getTime()).toBeGreaterThanOrEqual(before + 5000);
    expect(session.resolve(ok('cmd_other'))).toBe(false);
    expect(session.resolve(ok('cmd_1'))).toBe(true);
    expect(await pending).toEqual(ok('cmd_1'));
    expect(session.pendingCommands).toBe(0);
    // A second result for the same request finds nobody waiting.
    expect(session.resolve(ok('cmd_1'))).toBe(false);
  });

  it('fails every pending command UNAVAILABLE when it closes, and new ones at once', async () => {
    const session = new LinkSession('agt_1', new Date());
    const first = session.command('cmd_1', 'AddRepo', new Uint8Array(), 5000);
    const second = session.command('cmd_2', 'AddRepo', new Uint8Array(), 5000);
    session.close('agent went away');
    await expect(first).rejects.toMatchObject({ code: Status.UNAVAILABLE, reason: 'LINK_CLOSED' });
    await expect(second).rejects.toMatchObject({ code: Status.UNAVAILABLE, reason: 'LINK_CLOSED' });
    await expect(session.command('cmd_3', 'AddRepo', new Uint8Array(), 5000)).rejects.toMatchObject({
      code: Status.UNAVAILABLE,
      reason: 'AGENT_NOT_CONNECTED',
    });
    expect(session.pendingCommands).toBe(0);
  });

  it('gives up DEADLINE_EXCEEDED when no result comes in time, and stops waiting when the caller aborts', async () => {
    const session = new LinkSession('agt_1', new Date());
    await expect(session.command('cmd_1', 'AddRepo', new Uint8Array(), 20)).rejects.toMatchObject({
      code: Status.DEADLINE_EXCEEDED,
    });
    const caller = new AbortController();
    const pending = session.command('cmd_2', 'AddRepo', new Uint8Array(), 5000, caller.signal);
    caller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(session.pendingCommands).toBe(0);
    expect(session.resolve(ok('cmd_1'))).toBe(false);
  });

  it('ends its outbox with the error it closed on, so the stream reports it', async () => {
    const session = new LinkSession('agt_1', new Date());
    session.send({ message: { $case: 'welcome', value: { resumeAfterRevision: 0, wantSnapshot: true, heartbeatIntervalMs: 2000 } } });
    session.close('protocol error', new Error('bad'));
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const message of session.outbox.drain()) seen.push(message.message?.$case ?? '');
      })(),
    ).rejects.toThrow('bad');
    expect(seen).toEqual(['welcome']);
  });
});
