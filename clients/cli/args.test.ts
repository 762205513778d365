import { describe, expect, it } from 'vitest';
import { SessionState } from '@grove/sdk/proto/agent/v1/resources.js';
import { enumFlag, hoistGlobalFlags, keyValueFlags, selectorFlag } from './args.js';
import { UsageError } from './usage-error.js';

describe('enumFlag', () => {
  it.each([
    ['active', SessionState.SESSION_STATE_ACTIVE],
    ['STOPPED', SessionState.SESSION_STATE_STOPPED],
    ['pending_branch', SessionState.SESSION_STATE_PENDING_BRANCH],
  ])('reads %s without its prefix, in any case', (text, value) => {
    expect(enumFlag('--state', text, SessionState, 'SESSION_STATE_')).toBe(value);
  });

  it('is 0 (no filter) when absent', () => {
    expect(enumFlag('--state', undefined, SessionState, 'SESSION_STATE_')).toBe(0);
  });

  it.each(['unspecified', 'unrecognized', 'SESSION_STATE_ACTIVE', 'asleep'])('refuses %s, listing the values', (text) => {
    expect(() => enumFlag('--state', text, SessionState, 'SESSION_STATE_')).toThrow(
      new UsageError(`--state must be one of active, stopped, archived, pending_branch, setting_up, setup_failed; got "${text}"`),
    );
  });
});

describe('keyValueFlags and selectorFlag', () => {
  it('collects repeated k=v flags, values may hold "="', () => {
    expect(keyValueFlags('env', ['A=1', 'B=x=y', 'A=2'])).toEqual({ A: '2', B: 'x=y' });
    expect(keyValueFlags('env', undefined)).toEqual({});
    expect(selectorFlag(['team=a', 'zone=eu'])).toBe('team=a,zone=eu');
  });

  it.each(['novalue', '=v'])('refuses %s', (text) => {
    expect(() => keyValueFlags('label', [text])).toThrow(`--label takes KEY=VALUE, got "${text}"`);
  });
});

describe('hoistGlobalFlags', () => {
  it('moves global flags before the verb to after it, and before a -- so they never reach a task', () => {
    expect(hoistGlobalFlags(['--agent', 'a:1', '--json', 'session', 'ls'])).toEqual(['session', 'ls', '--agent', 'a:1', '--json']);
    expect(hoistGlobalFlags(['--timeout=5s', 'task', 'run', 'S', '--', 'sh', '-c', 'x'])).toEqual([
      'task',
      'run',
      'S',
      '--timeout=5s',
      '--',
      'sh',
      '-c',
      'x',
    ]);
    expect(hoistGlobalFlags(['session', 'ls', '--json'])).toEqual(['session', 'ls', '--json']);
    // Not a global flag: left where it is, for the verb lookup to refuse.
    expect(hoistGlobalFlags(['--state', 'x', 'session', 'ls'])).toEqual(['--state', 'x', 'session', 'ls']);
    expect(() => hoistGlobalFlags(['--coordinator'])).toThrow(/--coordinator needs a value/);
  });
});
