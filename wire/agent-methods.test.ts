import { describe, expect, it } from 'vitest';
import { AgentServiceDefinition, CreateSessionRequest } from '../gen/grove/agent/v1/agent_service.js';
import { agentMethod, routeKeysOf, withRouteRepo } from './agent-methods.js';

describe('the AgentService method registry', () => {
  it('knows every method by both spellings, with its codecs', () => {
    for (const [key, method] of Object.entries(AgentServiceDefinition.methods)) {
      expect(agentMethod(key)).toBe(agentMethod(method.name));
      expect(agentMethod(key)).toMatchObject({ key, name: method.name, unary: !method.requestStream && !method.responseStream });
    }
    expect(agentMethod('NoSuchMethod')).toBeUndefined();
  });

  it('routes by the ids a request carries', () => {
    expect(routeKeysOf('UpdateRepo', { id: 'rep_1' })).toEqual({ owned: [], repos: ['rep_1'] });
    expect(routeKeysOf('GetSession', { id: 'ses_1' })).toEqual({ owned: [{ kind: 'session', id: 'ses_1' }], repos: [] });
    expect(routeKeysOf('SubmitJob', { sessionId: '', sessionIds: ['ses_1', 'ses_2'], repoId: 'rep_9' })).toEqual({
      owned: [
        { kind: 'session', id: 'ses_1' },
        { kind: 'session', id: 'ses_2' },
      ],
      repos: ['rep_9'],
    });
    expect(routeKeysOf('GetAgentInfo', {})).toEqual({ owned: [], repos: [] });
  });

  it('gives a CreateSession that names no repo the one Route was asked for, and leaves others alone', () => {
    const create = agentMethod('CreateSession')!;
    const empty = CreateSessionRequest.fromPartial({ branch: 'b' });
    expect(CreateSessionRequest.decode(withRouteRepo(create, empty, 'app')!).repoIds).toEqual(['app']);
    expect(withRouteRepo(create, CreateSessionRequest.fromPartial({ branch: 'b', repoIds: ['lib'] }), 'app')).toBeUndefined();
    expect(withRouteRepo(agentMethod('GetSession')!, { id: 'ses_1' }, 'app')).toBeUndefined();
  });
});
