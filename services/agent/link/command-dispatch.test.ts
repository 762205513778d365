import { Status, ServerError } from 'nice-grpc-common';
import { describe, expect, it } from 'vitest';
import {
  AddRepoRequest,
  AddRepoResponse,
  AgentServiceDefinition,
  GetRepoRequest,
  type AgentServiceImplementation,
} from '../../../gen/grove/agent/v1/agent_service.js';
import type { Command } from '../../../gen/grove/link/v1/link.js';
import { notFound, unimplemented } from '../../common/errors.js';
import { createLogger } from '../../common/logging.js';
import { withUnimplemented } from '../../common/unimplemented.js';
import { createCommandDispatcher } from './command-dispatch.js';

const log = createLogger({ level: 'silent' });
const never = new AbortController().signal;

function dispatcherFor(built: Partial<AgentServiceImplementation>) {
  return createCommandDispatcher(
    withUnimplemented(AgentServiceDefinition, built, (m) => m),
    log,
  );
}

const command = (method: string, request: Uint8Array, timeoutMs = 0, deadline?: Date): Command => ({
  requestId: 'cmd_1',
  method,
  request: Buffer.from(request),
  deadline,
  timeoutMs,
});

describe('command dispatch', () => {
  it('decodes the request, calls the handler and encodes its (partial) response', async () => {
    let seen: AddRepoRequest | undefined;
    const dispatch = dispatcherFor({
      async addRepo(request) {
        seen = request;
        return { repo: { id: 'rep_1', name: request.name } };
      },
    });
    const result = await dispatch(
      command('AddRepo', AddRepoRequest.encode({ path: '/r', name: 'r', keepIgnored: [], setup: '', teardown: '', copy: [] }).finish()),
      never,
    );
    expect(seen).toEqual({ path: '/r', name: 'r', keepIgnored: [], setup: '', teardown: '', copy: [] });
    expect(result).toMatchObject({ requestId: 'cmd_1', code: Status.OK, reason: '', message: '' });
    expect(AddRepoResponse.decode(result.response)).toMatchObject({ repo: { id: 'rep_1', name: 'r', path: '' }, revision: 0 });
  });

  it('accepts the camelCase method key too', async () => {
    const dispatch = dispatcherFor({
      async getRepo(request) {
        return { id: request.id };
      },
    });
    const result = await dispatch(command('getRepo', GetRepoRequest.encode({ id: 'x' }).finish()), never);
    expect(result.code).toBe(Status.OK);
  });

  it.each<[string, () => unknown, { code: Status; reason: string; message: string | RegExp }]>([
    [
      'a GroveError keeps code, reason and message',
      () => {
        throw notFound('REPO_NOT_FOUND', 'no repo "x"');
      },
      { code: Status.NOT_FOUND, reason: 'REPO_NOT_FOUND', message: 'no repo "x"' },
    ],
    [
      'an unbuilt capability is UNIMPLEMENTED',
      () => {
        throw unimplemented('sessions');
      },
      { code: Status.UNIMPLEMENTED, reason: 'NOT_BUILT_YET', message: /sessions/ },
    ],
    [
      'a ServerError keeps its code',
      () => {
        throw new ServerError(Status.PERMISSION_DENIED, 'nope');
      },
      { code: Status.PERMISSION_DENIED, reason: '', message: 'nope' },
    ],
    // The raw message of a bug (it may hold SQL, paths or values) never reaches the caller.
    [
      'anything else is INTERNAL, without its raw message',
      () => {
        throw new TypeError('boom');
      },
      { code: Status.INTERNAL, reason: 'INTERNAL', message: /^internal error; the service log has the details$/ },
    ],
    [
      'a full disk is RESOURCE_EXHAUSTED',
      () => {
        throw Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL' });
      },
      { code: Status.RESOURCE_EXHAUSTED, reason: 'DISK_FULL', message: /disk .*full/ },
    ],
  ])('%s', async (_case, fail, expected) => {
    const dispatch = dispatcherFor({
      async getRepo() {
        return fail() as never;
      },
    });
    const result = await dispatch(command('GetRepo', GetRepoRequest.encode({ id: 'x' }).finish()), never);
    expect(result.code).toBe(expected.code);
    expect(result.reason).toBe(expected.reason);
    expect(result.message).toMatch(expected.message);
    expect(result.response).toHaveLength(0);
  });

  it('refuses unknown and streaming methods, and undecodable requests, without calling anything', async () => {
    const dispatch = dispatcherFor({});
    expect(await dispatch(command('Nope', new Uint8Array()), never)).toMatchObject({
      code: Status.UNIMPLEMENTED,
      reason: 'UNKNOWN_METHOD',
    });
    expect(await dispatch(command('WatchEvents', new Uint8Array()), never)).toMatchObject({
      code: Status.UNIMPLEMENTED,
      reason: 'STREAMING_NOT_ROUTABLE',
    });
    expect(await dispatch(command('FollowTaskLog', new Uint8Array()), never)).toMatchObject({ reason: 'STREAMING_NOT_ROUTABLE' });
    expect(await dispatch(command('GetRepo', Uint8Array.from([0x0a, 0x05, 0x61])), never)).toMatchObject({
      code: Status.INVALID_ARGUMENT,
      reason: 'BAD_COMMAND_REQUEST',
    });
  });

  it('answers DEADLINE_EXCEEDED for a command that arrives late, and aborts one that runs late', async () => {
    let calls = 0;
    const dispatch = dispatcherFor({
      async getRepo(_request, context) {
        calls++;
        await new Promise((_, reject) => context.signal.addEventListener('abort', () => reject(context.signal.reason)));
        return {};
      },
    });
    // The coordinator's absolute deadline says "a minute ago" to an agent whose clock runs
    // ahead: only the relative timeout counts, so the command still runs, for 50 ms.
    const skewed = await dispatch(command('GetRepo', new Uint8Array(), 50, new Date(Date.now() - 60_000)), never);
    expect(skewed).toMatchObject({ code: Status.DEADLINE_EXCEEDED, reason: 'DEADLINE_EXCEEDED' });
    expect(calls).toBe(1);
  });

  it('answers CANCELLED when the link closes under a running command', async () => {
    const link = new AbortController();
    const dispatch = dispatcherFor({
      async getRepo(_request, context) {
        await new Promise((_, reject) => context.signal.addEventListener('abort', () => reject(context.signal.reason)));
        return {};
      },
    });
    const running = dispatch(command('GetRepo', new Uint8Array()), link.signal);
    link.abort();
    expect(await running).toMatchObject({ code: Status.CANCELLED, reason: 'LINK_CLOSED' });
  });
});
