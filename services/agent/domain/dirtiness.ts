/** What makes a worktree unsafe to remove without preserving it first. */
export interface Dirtiness {
  /** Tracked files changed in the working tree but not staged. */
  tracked: string[];
  /** Changes staged in the index. */
  staged: string[];
  /** Untracked files that are not ignored. */
  untracked: string[];
}

export const isDirty = (d: Dirtiness) => d.tracked.length + d.staged.length + d.untracked.length > 0;

/**
 * Parses `git status --porcelain=v1 -z --untracked-files=all`. Each entry is `XY path`
 * (X = index, Y = working tree); renames and copies carry the original path as an extra
 * NUL-separated field.
 */
export function parsePorcelainStatus(output: string): Dirtiness {
  const result: Dirtiness = { tracked: [], staged: [], untracked: [] };
  const fields = output.split('\0');
  for (let i = 0; i < fields.length; i++) {
    const entry = fields[i]!;
    if (entry.length < 4) continue;
    const x = entry[0]!;
    const y = entry[1]!;
    const path = entry.slice(3);
    if (x === '?' && y === '?') {
      result.untracked.push(path);
      continue;
    }
    if (x === '!' && y === '!') continue;
    if (x !== ' ') result.staged.push(path);
    if (y !== ' ') result.tracked.push(path);
    if (x === 'R' || x === 'C') i++; // skip the original path of a rename/copy
  }
  return result;
}
