import type {
  CommitSessionRequest,
  CommitSessionResponse,
  DiffSessionRequest,
  DiffSessionResponse,
  RepoDiff,
} from '../../../gen/grove/agent/v1/agent_service.js';
import { FileChangeStatus } from '../../../gen/grove/agent/v1/agent_service.js';
import { WorktreeState, type Session, type SessionWorktree } from '../../../gen/grove/agent/v1/resources.js';
import { failedPrecondition, invalidArgument, notFound } from '../../common/errors.js';
import type { Logger } from '../../common/logging.js';
import { diffWorktree, type ChangeStatus } from '../git/diff.js';
import { git } from '../git/git.js';
import type { RepoService } from '../repos/repo-service.js';
import type { SessionService } from './session-service.js';

// A patch larger than this is left out of the answer (it says so): --stat still works.
export const PATCH_CAP_BYTES = 4 * 1024 * 1024;
// Files listed per repo; the total is always given.
export const MAX_DIFF_FILES = 10_000;
const MAX_MESSAGE_BYTES = 64 * 1024;

const STATUS_PROTO: Record<ChangeStatus, FileChangeStatus> = {
  added: FileChangeStatus.FILE_CHANGE_STATUS_ADDED,
  modified: FileChangeStatus.FILE_CHANGE_STATUS_MODIFIED,
  deleted: FileChangeStatus.FILE_CHANGE_STATUS_DELETED,
  renamed: FileChangeStatus.FILE_CHANGE_STATUS_RENAMED,
  type_changed: FileChangeStatus.FILE_CHANGE_STATUS_TYPE_CHANGED,
  untracked: FileChangeStatus.FILE_CHANGE_STATUS_UNTRACKED,
};

export interface SessionChangesDeps {
  sessions: SessionService;
  repos: RepoService;
  /** Whether a task of the session runs now (its worktree may be changing under us). */
  isWorking: (sessionId: string) => Promise<boolean>;
  log: Logger;
}

/** Review of a session's work: what it changed (diff) and recording it (commit). */
export class SessionChanges {
  constructor(private readonly deps: SessionChangesDeps) {}

  async diff(request: DiffSessionRequest): Promise<DiffSessionResponse> {
    const session = await this.deps.sessions.get(request.sessionId);
    const repos: RepoDiff[] = [];
    for (const worktree of this.worktreesOf(session, request.repo)) {
      const base = session.base || (await this.deps.repos.find(worktree.repoId)).defaultBranch;
      const diff = await diffWorktree(worktree.path, base, {
        withPatch: !request.statOnly,
        patchCapBytes: PATCH_CAP_BYTES,
        maxFiles: MAX_DIFF_FILES,
      });
      repos.push({
        repoId: worktree.repoId,
        repoName: worktree.repoName,
        base,
        mergeBase: diff.mergeBase,
        commits: diff.commits,
        files: diff.files.map((file) => ({ ...file, status: STATUS_PROTO[file.status] })),
        patch: diff.patch ?? '',
        patchOmitted: !request.statOnly && diff.patch === undefined,
        patchBytes: diff.patchBytes,
        filesTotal: diff.filesTotal,
      });
    }
    return { repos };
  }

  /** Commits every change in each repo that has any; refuses while a task runs in the session. */
  async commit(request: CommitSessionRequest): Promise<CommitSessionResponse> {
    if (!request.message.trim()) throw invalidArgument('MESSAGE_REQUIRED', 'a commit message is required (-m MESSAGE)');
    if (Buffer.byteLength(request.message) > MAX_MESSAGE_BYTES) {
      throw invalidArgument('MESSAGE_TOO_LONG', `the commit message is over ${MAX_MESSAGE_BYTES} bytes`);
    }
    if (request.message.includes('\0')) throw invalidArgument('NUL_IN_STRING', 'the commit message contains a NUL byte');
    const session = await this.deps.sessions.get(request.sessionId);
    const worktrees = this.worktreesOf(session, request.repo);
    // Under the session's lock: no task can be launched into the worktree mid-commit.
    return this.deps.sessions.withSessionLock(session.id, async () => {
      if (await this.deps.isWorking(session.id)) {
        throw failedPrecondition('TASK_RUNNING', `a task of session ${session.id} is running; commit once it has ended (or cancel it)`);
      }
      const commits: CommitSessionResponse['commits'] = [];
      for (const worktree of worktrees) {
        const cwd = worktree.path;
        const status = await git(['status', '--porcelain=v1', '-z', '--untracked-files=all'], { cwd });
        if (status.stdout.length === 0) continue;
        await git(['add', '--all', '--', '.'], { cwd });
        const made = await git(['commit', '--quiet', '--file=-', '--cleanup=strip'], { cwd, input: request.message, allowFailure: true });
        if (made.code !== 0) throw commitFailure(worktree.repoName, made.stderr);
        const sha = (await git(['rev-parse', 'HEAD'], { cwd })).stdout.trim();
        this.deps.log.info({ session: session.id, repo: worktree.repoName, sha }, 'session work committed');
        commits.push({ repoId: worktree.repoId, repoName: worktree.repoName, sha });
      }
      return { commits };
    });
  }

  /** The session's worktrees on disk, or just the one of `repo` (id or name). */
  private worktreesOf(session: Session, repo: string): SessionWorktree[] {
    const chosen = repo ? session.worktrees.filter((w) => w.repoId === repo || w.repoName === repo) : session.worktrees;
    if (repo && chosen.length === 0) throw notFound('REPO_NOT_IN_SESSION', `session ${session.id} has no repo "${repo.slice(0, 100)}"`);
    const inactive = chosen.find((w) => w.state !== WorktreeState.WORKTREE_STATE_ACTIVE);
    if (inactive) {
      throw failedPrecondition(
        'WORKTREE_NOT_ACTIVE',
        `the worktree of repo "${inactive.repoName}" in session ${session.id} is not on disk (${WorktreeState[inactive.state]})`,
      );
    }
    return chosen;
  }
}

function commitFailure(repoName: string, stderr: string): Error {
  if (/Please tell me who you are|unable to auto-detect email address/i.test(stderr)) {
    return failedPrecondition(
      'GIT_IDENTITY_MISSING',
      `git has no author identity for repo "${repoName}": set user.name and user.email (git config) and commit again`,
    );
  }
  // A hook that refused, usually: its words are the useful part.
  const said = stderr.trim().split('\n').slice(-5).join('\n').slice(0, 2000);
  return failedPrecondition('COMMIT_FAILED', `git commit in repo "${repoName}" failed: ${said || 'no output'}`);
}
