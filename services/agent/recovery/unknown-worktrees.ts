import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isWellFormedId } from '../../common/ids.js';

/**
 * Grove's own worktrees under the root (`<root>/<session id>/<repo>` holding a `.git` link):
 * what is left on disk of the sessions a database knew. Read only; at most `limit` listed.
 */
export function groveWorktreesUnder(root: string, limit = 1000): string[] {
  const found: string[] = [];
  let sessions: string[];
  try {
    sessions = readdirSync(root);
  } catch {
    return found;
  }
  for (const session of sessions.filter((name) => isWellFormedId('ses', name)).sort()) {
    let repos: string[];
    try {
      repos = readdirSync(join(root, session));
    } catch {
      continue;
    }
    for (const repo of repos.sort()) {
      if (existsSync(join(root, session, repo, '.git'))) found.push(`${session}/${repo}`);
      if (found.length >= limit) return found;
    }
  }
  return found;
}
