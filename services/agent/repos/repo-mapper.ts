import type { Repo } from '../../../gen/grove/agent/v1/resources.js';
import type { RepoRow } from '../store/entities.js';
import { resourceName } from '../domain/event-types.js';

export function toRepoProto(row: RepoRow): Repo {
  return {
    id: row.id,
    name: row.name,
    path: row.path,
    defaultBranch: row.defaultBranch,
    createTime: row.createdAt,
    keepIgnored: row.keepIgnored,
    setup: row.setup,
    teardown: row.teardown,
    copy: row.copyGlobs,
  };
}

export const repoResource = (id: string) => resourceName('repos', id);
