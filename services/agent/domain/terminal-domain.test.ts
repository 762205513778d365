import { describe, expect, it } from 'vitest';
import { BUILTIN_PROFILES, claudeHookSettings, mergeProfiles, parseProfiles, profileArgv } from './profiles.js';
import { afterProbe, sessionActivity, signalled, STARTED, type Activity } from './task-activity.js';

describe('task activity', () => {
  const quiet = { blockedOnTerminal: true, quietMs: 5000 };
  const busy = { blockedOnTerminal: false, quietMs: 0 };
  const inferredWait: Activity = { activity: 'NEEDS_INPUT', source: 'inferred', message: 'waiting on its terminal' };

  it.each([
    ['a quiet terminal read is waiting for a person', STARTED, quiet, 'NEEDS_INPUT'],
    ['a terminal read with recent output is not yet', STARTED, { blockedOnTerminal: true, quietMs: 100 }, undefined],
    ['a quiet program not reading its terminal is not', STARTED, { blockedOnTerminal: false, quietMs: 9000 }, undefined],
    ['an inferred wait that ended is working again', inferredWait, busy, 'WORKING'],
    ['an inferred wait that goes on stays', inferredWait, quiet, undefined],
    ['a signal is never second-guessed', signalled('IDLE', ''), quiet, undefined],
  ] as const)('%s', (_, current, facts, expected) => {
    expect(afterProbe(current, facts, 2000)?.activity).toBe(expected);
  });

  it('ranks a session: needs input over working over idle', () => {
    expect(sessionActivity([])).toBe('IDLE');
    expect(sessionActivity(['IDLE', 'WORKING'])).toBe('WORKING');
    expect(sessionActivity(['WORKING', 'NEEDS_INPUT', 'IDLE'])).toBe('NEEDS_INPUT');
  });
});

describe('profiles', () => {
  const claude = BUILTIN_PROFILES.find((p) => p.name === 'claude')!;

  it('builds the terminal, one-shot and continue forms, filling the prompt once', () => {
    expect(profileArgv(claude, { prompt: '', tty: true, continueConversation: false }, '/run/h.json')).toEqual([
      'claude',
      '--settings',
      '/run/h.json',
    ]);
    expect(profileArgv(claude, { prompt: 'fix {hooks}', tty: false, continueConversation: true }, '/h')).toEqual([
      'claude',
      '--continue',
      '--settings',
      '/h',
      '-p',
      'fix {hooks}',
    ]);
    expect(profileArgv(claude, { prompt: '', tty: false, continueConversation: false }, '/h')).toMatchObject({
      problem: expect.stringMatching(/--prompt/),
    });
  });

  it('validates a user file whole, and lets it replace a built-in', () => {
    const mine = parseProfiles(JSON.stringify({ profiles: [{ name: 'claude', command: 'my-claude', requiredEnv: ['KEY'] }] }), 'f.json');
    expect(mergeProfiles(mine).find((p) => p.name === 'claude')).toMatchObject({
      command: 'my-claude',
      source: 'f.json',
      requiredEnv: ['KEY'],
    });
    for (const [doc, problem] of [
      ['{', /not JSON/],
      ['{"profiles": 3}', /"profiles" list/],
      ['{"profiles": [{"name": "Bad Name", "command": "x"}]}', /name of lowercase/],
      ['{"profiles": [{"name": "a", "command": "x", "colour": 1}]}', /unknown field/],
      ['{"profiles": [{"name": "a", "command": "x", "env": {"GROVE_TASK_ID": "1"}}]}', /GROVE_ variables/],
      ['{"profiles": [{"name": "a", "command": "x", "activityHooks": "magic"}]}', /activityHooks/],
      ['{"profiles": [{"name": "a", "command": "x"}, {"name": "a", "command": "y"}]}', /defined twice/],
    ] as const) {
      expect(() => parseProfiles(doc, 'f.json')).toThrow(problem);
    }
  });

  it('wires Claude Code hooks to grove signal, quoted for a shell', () => {
    const settings = JSON.parse(claudeHookSettings(['/usr/bin/node', "/opt/it's/main.js"])) as {
      hooks: Record<string, Array<{ hooks: Array<{ command: string }> }>>;
    };
    expect(settings.hooks.Notification![0]!.hooks[0]!.command).toBe(`'/usr/bin/node' '/opt/it'\\''s/main.js' signal needs-input`);
    expect(settings.hooks.Stop![0]!.hooks[0]!.command).toMatch(/signal idle$/);
  });
});
