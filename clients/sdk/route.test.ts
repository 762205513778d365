import { describe, expect, it } from 'vitest';
import { CreateSessionRequest, CreateSessionResponse } from '../../gen/grove/agent/v1/agent_service.js';
import type { CoordinatorServiceClient, RouteRequest } from '../../gen/grove/coordinator/v1/coordinator_service.js';
import type { GroveCallOptions } from './grove-client-factory.js';
import { routeAgentCall } from './route.js';

describe('routeAgentCall', () => {
  it('sends the encoded request under the proto method name and decodes the answer', async () => {
    const sent: RouteRequest[] = [];
    const coordinator = {
      async route(request: RouteRequest) {
        sent.push(request);
        const response = CreateSessionResponse.encode(
          CreateSessionResponse.fromPartial({ session: { id: 'ses_1', branch: 'feat' } }),
        ).finish();
        return { agentId: 'agt_1', agentName: 'alpha', response: Buffer.from(response) };
      },
    } as unknown as CoordinatorServiceClient<GroveCallOptions>;

    const routed = await routeAgentCall(
      coordinator,
      'createSession',
      { repoIds: ['app'], branch: 'feat' },
      { labelSelector: 'team=a', hasRepo: 'app' },
    );

    expect(routed.agent).toEqual({ id: 'agt_1', name: 'alpha' });
    expect(routed.response.session).toMatchObject({ id: 'ses_1', branch: 'feat' });
    expect(sent[0]).toMatchObject({ method: 'CreateSession', agent: '', labelSelector: 'team=a', hasRepo: 'app' });
    expect(CreateSessionRequest.decode(sent[0]!.request)).toMatchObject({ repoIds: ['app'], branch: 'feat', base: '' });
  });
});
