import { TaskState, type Event, type Job, type Lock, type Repo, type Session, type Task } from '../../../gen/grove/agent/v1/resources.js';
import { ResourceIndex } from './resource-index.js';

// Facet names. Values are whatever the resource carries; a prefix per field keeps a repo
// named like an id from matching the id facet.
export const stateFacet = (state: number): string => `state:${state}`;
export const labelFacet = (key: string, value: string): string => `label:${key}=${value}`;
export const repoIdFacet = (repoId: string): string => `repo:${repoId}`;
export const repoNameFacet = (name: string): string => `repo-name:${name}`;
export const sessionFacet = (sessionId: string): string => `session:${sessionId}`;
export const nameFacet = (name: string): string => `name:${name}`;
/** Tasks in a state on one agent: how "least loaded" is answered without counting. */
export const agentStateFacet = (agentId: string, state: number): string => `agent-state:${agentId}:${state}`;

function sessionFacets(session: Session): string[] {
  const facets = [stateFacet(session.state)];
  for (const worktree of session.worktrees) {
    facets.push(repoIdFacet(worktree.repoId), repoNameFacet(worktree.repoName));
  }
  for (const [key, value] of Object.entries(session.labels)) facets.push(labelFacet(key, value));
  return facets;
}

/**
 * Sorted, faceted indexes over every agent's projected resources, kept in step with the
 * projection by the same snapshots and events. Lists and routing read these instead of
 * walking every agent's maps.
 */
export class ProjectionIndex {
  readonly repos = new ResourceIndex<Repo>((repo) => [nameFacet(repo.name)]);
  readonly sessions = new ResourceIndex<Session>(sessionFacets);
  readonly tasks = new ResourceIndex<Task>((task, agentId) => [
    sessionFacet(task.sessionId),
    stateFacet(task.state),
    agentStateFacet(agentId, task.state),
  ]);
  readonly jobs = new ResourceIndex<Job>((job) => [stateFacet(job.state), repoIdFacet(job.repoId), sessionFacet(job.sessionId)]);
  /** Keyed by directory; only for finding a lock's owner. */
  readonly locks = new ResourceIndex<Lock>(() => []);

  /** Follows one applied change (an event or a resync difference) of `agentId`'s projection. */
  apply(agentId: string, event: Event): void {
    const payload = event.payload;
    switch (payload?.$case) {
      case 'repo':
        return follow(this.repos, agentId, payload.value.id, payload.value, event.deleted);
      case 'session':
        return follow(this.sessions, agentId, payload.value.id, payload.value, event.deleted);
      case 'task':
        return follow(this.tasks, agentId, payload.value.id, payload.value, event.deleted);
      case 'job':
        return follow(this.jobs, agentId, payload.value.id, payload.value, event.deleted);
      case 'lock':
        return follow(this.locks, agentId, payload.value.directory, payload.value, event.deleted);
      default:
        return;
    }
  }

  runningTasks(agentId: string): number {
    return this.tasks.count(agentStateFacet(agentId, TaskState.TASK_STATE_RUNNING));
  }

  queuedTasks(agentId: string): number {
    return this.tasks.count(agentStateFacet(agentId, TaskState.TASK_STATE_QUEUED));
  }
}

function follow<T>(index: ResourceIndex<T>, agentId: string, id: string, item: T, deleted: boolean): void {
  if (deleted) index.remove(agentId, id);
  else index.put(agentId, id, item);
}
