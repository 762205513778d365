import type { CreateSessionRequest, StartTaskRequest } from '../../gen/grove/agent/v1/agent_service.js';

/** A whole StartTaskRequest from the few fields a test cares about. */
export const startTaskRequest = (fields: Pick<StartTaskRequest, 'sessionId' | 'argv'> & Partial<StartTaskRequest>): StartTaskRequest => ({
  prompt: '',
  env: {},
  repoId: '',
  requestId: '',
  tty: false,
  cols: 0,
  rows: 0,
  profile: '',
  continue: false,
  ...fields,
});

/** A whole CreateSessionRequest from its repos and branch. */
export const createSessionRequest = (
  fields: Pick<CreateSessionRequest, 'repoIds' | 'branch'> & Partial<CreateSessionRequest>,
): CreateSessionRequest => ({ base: '', title: '', labels: {}, requestId: '', ...fields });
