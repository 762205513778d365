import { describe, expect, it } from 'vitest';
import type { GlobalValues } from './args.js';
import type { CliIo } from './cli-io.js';
import { agentTarget, coordinatorTarget, LONG_CALL_DEADLINE_MS } from './target.js';
import { UsageError } from './usage-error.js';

const io = { env: {} } as CliIo;
const values = (extra: Partial<GlobalValues> = {}) => ({ json: false, ...extra }) as GlobalValues;

describe('call deadlines', () => {
  it('long verbs wait ten minutes by default; others leave the SDK default', () => {
    expect(agentTarget(values(), io).defaultDeadlineMs).toBeUndefined();
    expect(agentTarget(values(), io, LONG_CALL_DEADLINE_MS).defaultDeadlineMs).toBe(10 * 60_000);
    expect(coordinatorTarget(values(), io, LONG_CALL_DEADLINE_MS).defaultDeadlineMs).toBe(10 * 60_000);
  });

  it('--timeout wins over either default, and a bad one is a usage error', () => {
    expect(agentTarget(values({ timeout: '3s' }), io).defaultDeadlineMs).toBe(3000);
    expect(coordinatorTarget(values({ timeout: '1h' }), io, LONG_CALL_DEADLINE_MS).defaultDeadlineMs).toBe(3_600_000);
    expect(() => agentTarget(values({ timeout: 'soon' }), io)).toThrow(UsageError);
  });
});
