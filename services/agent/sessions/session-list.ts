import type { EntityManager } from '@mikro-orm/sqlite';
import { SessionActivity, SessionState, type Session } from '../../../gen/grove/agent/v1/resources.js';
import { checkedEnumFilter } from '../../common/enum-filter.js';
import { decodePageToken, matchesLabels, pageSize, parseLabels, takePage } from '../../common/paging.js';
import { SessionSchema, WorktreeSchema } from '../store/entities.js';
import type { Store } from '../store/store.js';
import { sessionStateFromProto } from './session-mapper.js';
import type { WorktreeRows } from './worktree-rows.js';

export interface SessionListRequest {
  pageSize: number;
  pageToken: string;
  state: number;
  repoId: string;
  labelSelector: string;
  activity: number;
}

/** A page of sessions in id order, filtered by state, repo (already resolved to an id), labels and activity. */
export async function listSessions(store: Store, worktreeRows: WorktreeRows, request: SessionListRequest, repoId: string | undefined) {
  const size = pageSize(request.pageSize);
  const activity = checkedEnumFilter(SessionActivity, request.activity, 'activity') ? request.activity : undefined;
  const after = decodePageToken(request.pageToken);
  const selector = parseLabels(request.labelSelector);
  const state = checkedEnumFilter(SessionState, request.state, 'state') ? sessionStateFromProto(request.state) : undefined;
  return store.readConsistent(async (em) => {
    const sessions: Session[] = [];
    let cursor = after;
    // Label filtering happens in memory: scan in id order until the page is full.
    const repoSessions = repoId ? await sessionIdsOfRepo(em, repoId) : undefined;
    for (;;) {
      const idFilter: { $gt?: string; $in?: string[] } = {};
      if (cursor) idFilter.$gt = cursor;
      if (repoSessions) idFilter.$in = repoSessions;
      const rows = await em.find(
        SessionSchema,
        { ...(Object.keys(idFilter).length ? { id: idFilter } : {}), ...(state ? { state } : {}) },
        { orderBy: { id: 'asc' }, limit: size + 1 },
      );
      for (const row of rows) {
        if (!matchesLabels(row.labels, selector)) continue;
        const worktrees = await em.find(WorktreeSchema, { sessionId: row.id }, { orderBy: { repoName: 'asc' } });
        const session = await worktreeRows.toProto(em, row, worktrees);
        if (activity && session.activity !== activity) continue;
        sessions.push(session);
        if (sessions.length > size) break;
      }
      if (sessions.length > size || rows.length <= size) break;
      cursor = rows[rows.length - 1]!.id;
    }
    const { page, nextPageToken } = takePage(sessions, size, (s) => s.id);
    return { sessions: page, nextPageToken };
  });
}

async function sessionIdsOfRepo(em: EntityManager, repoId: string): Promise<string[]> {
  const rows = await em.find(WorktreeSchema, { repoId }, { fields: ['sessionId'] });
  return rows.map((r) => r.sessionId);
}
