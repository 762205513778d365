import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { remotes } from '../services/agent/git/branches.js';

describe("a repo's remotes, kept between fetch jobs", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('answers without running git while no config changed, and sees every edit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'grove-remotes-'));
    dirs.push(dir);
    const repo = join(dir, 'repo');
    mkdirSync(repo);
    const gitIn = (...args: string[]) => execFileSync('git', args, { cwd: repo, stdio: 'pipe' });
    gitIn('init', '--quiet');
    expect(await remotes(repo)).toEqual([]);
    gitIn('remote', 'add', 'origin', join(dir, 'elsewhere'));
    expect(await remotes(repo)).toEqual(['origin']);

    // No git on PATH: only a kept answer can come back.
    const path = process.env.PATH;
    process.env.PATH = join(dir, 'no-git-here');
    try {
      expect(await remotes(repo)).toEqual(['origin']);
    } finally {
      process.env.PATH = path;
    }

    gitIn('remote', 'add', 'backup', join(dir, 'backup'));
    expect(await remotes(repo)).toEqual(['backup', 'origin']);
    gitIn('remote', 'remove', 'origin');
    expect(await remotes(repo)).toEqual(['backup']);
  });
});
