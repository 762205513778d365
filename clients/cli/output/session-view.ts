import {
  sessionActivityToJSON,
  sessionStateToJSON,
  worktreeStateToJSON,
  type Session,
  type SessionWorktree,
} from '@grove/sdk/proto/agent/v1/resources.js';
import { enumLabel, formatLabels, formatTime, orDash } from './format.js';
import { formatTable } from './table.js';

export const sessionStateLabel = (session: Session) => enumLabel(sessionStateToJSON(session.state), 'SESSION_STATE_');
export const sessionActivityLabel = (session: Session) => enumLabel(sessionActivityToJSON(session.activity), 'SESSION_ACTIVITY_');
const worktreeStateLabel = (worktree: SessionWorktree) => enumLabel(worktreeStateToJSON(worktree.state), 'WORKTREE_STATE_');

/** What needs a person's attention about a worktree: its last error, drift from the row, a failed teardown. */
const worktreeNote = (worktree: SessionWorktree) =>
  [worktree.lastError, worktree.drift && `drift: ${worktree.drift}`, worktree.teardownError].filter(Boolean).join('; ');

/** One row per repo of the session: where its worktree is and whether work was preserved. */
export function worktreeTable(worktrees: readonly SessionWorktree[]): string {
  const withNotes = worktrees.some((w) => worktreeNote(w));
  const header = ['REPO', 'STATE', 'BRANCH', 'PATH', 'PRESERVED', ...(withNotes ? ['NOTE'] : [])];
  return formatTable([
    header,
    ...worktrees.map((w) => [
      w.repoName,
      worktreeStateLabel(w),
      w.branch,
      w.path,
      orDash(w.preservedRef),
      ...(withNotes ? [orDash(worktreeNote(w))] : []),
    ]),
  ]);
}

/**
 * The ignored files that went with removed worktrees, one line per repo: git calls them
 * clean, but people want to know their `.env` is gone (`repo set --keep-ignored` keeps them).
 */
export function removedIgnoredLines(worktrees: readonly SessionWorktree[]): string {
  return worktrees
    .filter((w) => w.removedIgnoredTotal > 0)
    .map((w) => {
      const more = w.removedIgnoredTotal - w.removedIgnored.length;
      const listed = w.removedIgnored.slice(0, 10).join(', ');
      const rest = more + Math.max(0, w.removedIgnored.length - 10);
      return `${w.repoName}: ignored files removed with the worktree: ${listed}${rest > 0 ? `, and ${rest} more` : ''}\n`;
    })
    .join('');
}

/** `session get`: the session's fields, then its worktrees. */
export function sessionDetail(session: Session, agentName?: string): string {
  const fields: string[][] = [
    ['ID', session.id],
    ['TITLE', orDash(session.title)],
    ['BRANCH', session.branch],
    ['BASE', orDash(session.base)],
    ['STATE', sessionStateLabel(session)],
    ['ACTIVITY', sessionActivityLabel(session)],
    ['LABELS', formatLabels(session.labels)],
  ];
  if (session.ports.length > 0) fields.push(['PORTS', session.ports.join(', ')]);
  if (agentName) fields.push(['AGENT', agentName]);
  if (session.pendingJobId) fields.push(['PENDING JOB', session.pendingJobId]);
  if (session.lastError) fields.push(['LAST ERROR', session.lastError]);
  fields.push(['CREATED', formatTime(session.createTime)], ['UPDATED', formatTime(session.updateTime)]);
  return `${formatTable(fields)}\n${worktreeTable(session.worktrees)}${removedIgnoredLines(session.worktrees)}${landingsTable(session)}`;
}

/** What was landed where, when there is anything. */
function landingsTable(session: Session): string {
  if (session.landings.length === 0) return '';
  const rows = session.landings.map((l) => [l.repoName, l.target, l.commit.slice(0, 12), l.jobId, formatTime(l.landTime)]);
  return `\nLANDED\n${formatTable([['REPO', 'INTO', 'COMMIT', 'JOB', 'WHEN'], ...rows])}`;
}
