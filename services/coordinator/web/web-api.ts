import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClientError, Status } from 'nice-grpc-common';
import { CoordinatorServiceDefinition, WatchResponse } from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import { AgentServiceDefinition, FollowTaskLogResponse } from '../../../gen/grove/agent/v1/agent_service.js';
import { routeAgentCall, type CoordinatorClient, type UnaryAgentMethod } from '@grove/sdk';
import { agentMethod } from '../../../wire/agent-methods.js';
import type { Logger } from '../../common/logging.js';
import { sameOrigin, SESSION_COOKIE, type Credential, type WebSessions } from './web-auth.js';
import { serveStatic } from './static-files.js';

const MAX_BODY = 1024 * 1024;
const KEEPALIVE_MS = 15_000;

export interface WebApiOptions {
  sessions: WebSessions;
  /** A client of this very coordinator: the page's API is a client like the CLI. */
  client: CoordinatorClient;
  /** The built page (dist/web). */
  assetsDir: string;
  /** Prometheus text, served at /metrics to the same credentials. */
  metrics: () => Promise<string>;
  shutdown: AbortSignal;
  log: Logger;
}

/** Headers on every answer: no framing, no sniffing, no referrers, and only our own scripts. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const HTTP_STATUS: Partial<Record<Status, number>> = {
  [Status.INVALID_ARGUMENT]: 400,
  [Status.UNAUTHENTICATED]: 401,
  [Status.PERMISSION_DENIED]: 403,
  [Status.NOT_FOUND]: 404,
  [Status.ALREADY_EXISTS]: 409,
  [Status.ABORTED]: 409,
  [Status.FAILED_PRECONDITION]: 412,
  [Status.RESOURCE_EXHAUSTED]: 429,
  [Status.UNIMPLEMENTED]: 501,
  [Status.UNAVAILABLE]: 503,
  [Status.DEADLINE_EXCEEDED]: 504,
};

/** A method's message types as JSON: ts-proto's fromJSON (defaults filled in) and toJSON. */
interface JsonMethod {
  requestType: { fromJSON(object: unknown): unknown };
  responseType: { toJSON(message: unknown): unknown };
}

// Streams are served by their own routes (/api/watch, /api/log, /api/attach).
const COORDINATOR_UNARY = new Map<string, JsonMethod>(
  Object.values(CoordinatorServiceDefinition.methods)
    .filter((m) => !m.requestStream && !m.responseStream)
    .map((m) => [m.name as string, m as unknown as JsonMethod] as const),
);
const AGENT_METHODS = AgentServiceDefinition.methods as unknown as Record<string, JsonMethod>;

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  response.end(JSON.stringify(body));
}

function sendError(response: ServerResponse, status: number, code: string, message: string, reason = ''): void {
  sendJson(response, status, { code, reason, message });
}

/** A failed call as the page sees it: the gRPC code's name, the reason, the message. */
function sendCallError(response: ServerResponse, err: unknown, log: Logger): void {
  if (err instanceof ClientError) {
    const reason = (err as ClientError & { reason?: string }).reason ?? '';
    sendError(response, HTTP_STATUS[err.code] ?? 500, Status[err.code], err.details, reason);
    return;
  }
  log.error({ err }, 'web call failed');
  sendError(response, 500, 'INTERNAL', 'the call failed; see the coordinator log');
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  if (!/^application\/json\b/.test(request.headers['content-type'] ?? '')) {
    throw new ClientError('', Status.INVALID_ARGUMENT, 'send the body as application/json');
  }
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new ClientError('', Status.RESOURCE_EXHAUSTED, `the body is over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new ClientError('', Status.INVALID_ARGUMENT, 'the body is not JSON');
  }
}

/** Opens a Server-Sent Events answer; `send` writes one event and waits while the client is behind. */
function openEvents(request: IncomingMessage, response: ServerResponse, shutdown: AbortSignal) {
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  response.flushHeaders();
  const closed = new AbortController();
  request.on('close', () => closed.abort());
  const signal = AbortSignal.any([closed.signal, shutdown]);
  const keepalive = setInterval(() => response.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  signal.addEventListener('abort', () => clearInterval(keepalive), { once: true });
  const send = async (event: string, data: unknown, id?: number) => {
    const ok = response.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    // The client's own pace holds back the stream from the coordinator (its watch cut-off applies).
    if (!ok && !signal.aborted) await new Promise((resolve) => response.once('drain', resolve));
  };
  const end = () => {
    clearInterval(keepalive);
    response.end();
  };
  return { signal, send, end };
}

/**
 * The page's HTTP API over this coordinator: unary calls of CoordinatorService and (routed)
 * AgentService as JSON, the watch and task logs as Server-Sent Events, the page itself.
 * Credentials are checked from the headers before any body is read; state-changing calls
 * must come from the page's own origin.
 */
export function webHandler(options: WebApiOptions): (request: IncomingMessage, response: ServerResponse) => void {
  const { sessions, client, log } = options;
  return (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const credential = sessions.credential(request);
    const handle = async () => {
      if (path === '/api/auth' && request.method === 'GET') {
        return sendJson(response, 200, { required: sessions.required, authenticated: credential !== 'none' });
      }
      if (path === '/api/login' && request.method === 'POST') return login(request, response, credential);
      if (!path.startsWith('/api/') && path !== '/metrics') {
        if (request.method !== 'GET' && request.method !== 'HEAD')
          return sendError(response, 405, 'METHOD_NOT_ALLOWED', 'only GET is served here');
        return serveStatic(options.assetsDir, path, request, response, SECURITY_HEADERS);
      }
      if (credential === 'none') {
        return sendJson(
          response,
          401,
          { code: 'UNAUTHENTICATED', reason: 'LOGIN_REQUIRED', message: 'log in with the coordinator token first' },
          { 'www-authenticate': 'Bearer' },
        );
      }
      if (request.method === 'POST' && !sameOrigin(request, credential)) {
        return sendError(response, 403, 'PERMISSION_DENIED', 'cross-site requests are refused', 'CROSS_SITE');
      }
      if (path === '/metrics' && request.method !== 'GET' && request.method !== 'HEAD') {
        return sendError(response, 405, 'METHOD_NOT_ALLOWED', 'only GET is served at /metrics');
      }
      if (path === '/metrics') {
        response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        return response.end(await options.metrics());
      }
      if (path === '/api/logout' && request.method === 'POST') {
        sessions.logout(request);
        return sendJson(response, 200, {}, { 'set-cookie': `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0` });
      }
      const call = /^\/api\/call\/(coordinator|agent)\/([A-Za-z]+)$/.exec(path);
      if (call && request.method === 'POST') return call[1] === 'coordinator' ? coordinatorCall(call[2]!) : agentCall(call[2]!);
      if (path === '/api/watch' && request.method === 'GET') return watch(url);
      if (path === '/api/log' && request.method === 'GET') return followLog(url);
      return sendError(response, 404, 'NOT_FOUND', `no API at ${request.method} ${path}`);
    };

    const coordinatorCall = async (name: string) => {
      const method = COORDINATOR_UNARY.get(name);
      if (!method) return sendError(response, 404, 'NOT_FOUND', `CoordinatorService has no unary method ${name}`);
      const body = await readJson(request);
      const invoke = client[(name[0]!.toLowerCase() + name.slice(1)) as keyof CoordinatorClient] as (r: unknown) => Promise<unknown>;
      const answer = await invoke.call(client, method.requestType.fromJSON(body));
      sendJson(response, 200, method.responseType.toJSON(answer));
    };

    const agentCall = async (name: string) => {
      const method = agentMethod(name);
      if (!method?.unary) return sendError(response, 404, 'NOT_FOUND', `AgentService has no unary method ${name} to route`);
      const json = AGENT_METHODS[method.key]!;
      const body = (await readJson(request)) as { agent?: string; request?: unknown };
      const routed = await routeAgentCall(client, method.key as UnaryAgentMethod, json.requestType.fromJSON(body.request ?? {}) as never, {
        agent: typeof body.agent === 'string' ? body.agent : '',
      });
      sendJson(response, 200, { agent: routed.agent, response: json.responseType.toJSON(routed.response) });
    };

    const watch = async (at: URL) => {
      const from = Number(at.searchParams.get('from') ?? '0');
      const events = openEvents(request, response, options.shutdown);
      try {
        for await (const change of client.watch({ fromRevision: from, initialSnapshot: from === 0 }, { signal: events.signal })) {
          await events.send('change', WatchResponse.toJSON(change));
        }
      } catch (err) {
        if (!events.signal.aborted) {
          // Compacted, or cut off as too slow: the page lists afresh. Anything else: it reconnects.
          const code = err instanceof ClientError ? err.code : Status.UNKNOWN;
          const relist = code === Status.OUT_OF_RANGE || code === Status.RESOURCE_EXHAUSTED;
          await events.send(relist ? 'relist' : 'failed', {
            code: Status[code],
            message: err instanceof ClientError ? err.details : 'the watch ended',
          });
        }
      } finally {
        events.end();
      }
    };

    const followLog = async (at: URL) => {
      const id = at.searchParams.get('task') ?? '';
      const events = openEvents(request, response, options.shutdown);
      try {
        const offset = Number(at.searchParams.get('offset') ?? '0');
        for await (const chunk of client.followTaskLog({ id, offset }, { signal: events.signal })) {
          await events.send('log', FollowTaskLogResponse.toJSON(chunk));
        }
        await events.send('end', {});
      } catch (err) {
        if (!events.signal.aborted) {
          await events.send(
            'failed',
            err instanceof ClientError ? { code: Status[err.code], message: err.details } : { code: 'UNKNOWN', message: 'the log ended' },
          );
        }
      } finally {
        events.end();
      }
    };

    const login = async (req: IncomingMessage, res: ServerResponse, cred: Credential) => {
      if (!sameOrigin(req, cred === 'none' ? 'cookie' : cred))
        return sendError(res, 403, 'PERMISSION_DENIED', 'cross-site requests are refused', 'CROSS_SITE');
      if (!sessions.required) return sendJson(res, 200, {});
      const body = (await readJson(req)) as { token?: unknown };
      const id = typeof body.token === 'string' ? sessions.login(body.token) : undefined;
      if (!id) return sendError(res, 401, 'UNAUTHENTICATED', 'that is not the token', 'BAD_TOKEN');
      const secure = (req.socket as { encrypted?: boolean }).encrypted ? '; Secure' : '';
      sendJson(res, 200, {}, { 'set-cookie': `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict${secure}` });
    };

    handle().catch((err: unknown) => {
      if (response.headersSent) {
        response.end();
        return;
      }
      sendCallError(response, err, log);
    });
  };
}
