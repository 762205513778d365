import { describe, expect, it } from 'vitest';
import { deriveAgentStatus, type AgentStatusName } from './agent-status.js';

describe('deriveAgentStatus', () => {
  const policy = { graceMs: 6000, ttlMs: 30_000 };
  const now = Date.parse('2025-01-01T00:01:00Z');
  const ago = (ms: number) => new Date(now - ms);

  it.each<[string, boolean, Date | undefined, AgentStatusName]>([
    ['never heard from, no link', false, undefined, 'unknown'],
    ['never heard from, link open', true, undefined, 'unknown'],
    ['link open, heard just now', true, ago(0), 'connected'],
    ['link open, heard at the grace boundary', true, ago(6000), 'connected'],
    ['link open but silent past grace', true, ago(6001), 'disconnected'],
    ['link open but silent past the TTL', true, ago(30_001), 'unknown'],
    ['link closed, heard just now', false, ago(0), 'disconnected'],
    ['link closed, heard at the TTL boundary', false, ago(30_000), 'disconnected'],
    ['link closed, silent past the TTL', false, ago(30_001), 'unknown'],
    ['clock moved back: heard "in the future"', true, new Date(now + 5000), 'connected'],
  ])('%s', (_case, linkOpen, lastSeen, expected) => {
    expect(deriveAgentStatus({ linkOpen, lastSeen }, now, policy)).toBe(expected);
  });

  it('uses the policy it is given', () => {
    const tight = { graceMs: 1000, ttlMs: 2000 };
    expect(deriveAgentStatus({ linkOpen: true, lastSeen: ago(1500) }, now, tight)).toBe('disconnected');
    expect(deriveAgentStatus({ linkOpen: false, lastSeen: ago(2500) }, now, tight)).toBe('unknown');
  });
});
