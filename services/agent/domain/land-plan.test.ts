import { describe, expect, it } from 'vitest';
import { nextLandStep, positionOf, type TargetPosition } from './land-plan.js';

const repo = (repoName: string, position: TargetPosition) => ({ repoName, target: 'main', position });

describe('positionOf', () => {
  it.each([
    ['at the old commit', 'a', 'old'],
    ['at the landed commit', 'b', 'new'],
    ['somewhere else', 'c', 'elsewhere'],
    ['gone', undefined, 'elsewhere'],
  ] as const)('reads a target %s', (_, current, expected) => {
    expect(positionOf(current, { old: 'a', new: 'b' })).toBe(expected);
  });

  it('reads a repo with nothing to land (old = new) as done', () => {
    expect(positionOf('a', { old: 'a', new: 'a' })).toBe('new');
  });
});

describe('nextLandStep', () => {
  it.each([
    ['nothing moved yet', ['old', 'old'], 'move'],
    ['a crash after the first ref moved', ['new', 'old'], 'move'],
    ['every ref moved (the crash came at the end)', ['new', 'new'], 'move'],
    ['someone moved a target not yet landed', ['new', 'elsewhere'], 'undo'],
    ['someone moved the only target', ['elsewhere'], 'undo'],
    ['someone moved a target while nothing was landed', ['old', 'elsewhere'], 'undo'],
  ] as const)('%s: %s', (_, positions, action) => {
    const step = nextLandStep(positions.map((p, i) => repo(`r${i}`, p)));
    expect(step.action).toBe(action);
  });

  it('names every target that moved', () => {
    const step = nextLandStep([repo('app', 'elsewhere'), repo('lib', 'new'), repo('web', 'elsewhere')]);
    expect(step).toEqual({ action: 'undo', why: expect.stringMatching(/^main in repo app, main in repo web moved while landing/) });
  });
});
