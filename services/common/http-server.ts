import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { sameSecret } from './auth.js';
import type { TlsFiles } from './grpc-server.js';
import type { Logger } from './logging.js';
import { badFlag, StartupError } from './startup-error.js';

/** Answers one GET path; what it returns is the body, sent with `contentType`. */
export interface HttpRoute {
  contentType: string;
  body(): Promise<string>;
}

export interface HttpServerOptions {
  listen: string;
  log: Logger;
  /** When set, every request must carry `Authorization: Bearer <token>`, checked first. */
  token?: string | undefined;
  tls?: TlsFiles | undefined;
  routes: Record<string, HttpRoute>;
}

export interface RunningHttpServer {
  address: string;
  close(): Promise<void>;
}

/**
 * A small read-only HTTP face beside the gRPC server (metrics now). Credentials are checked
 * from the headers before anything else happens; only GET and HEAD are answered.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const reply = (status: number, text: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      response.end(`${text}\n`);
    };
    if (options.token !== undefined) {
      const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (given === undefined || !sameSecret(given, options.token)) {
        reply(401, 'unauthenticated: send Authorization: Bearer <token>', { 'www-authenticate': 'Bearer' });
        return;
      }
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      reply(405, 'only GET is served here', { allow: 'GET, HEAD' });
      return;
    }
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const route = options.routes[path];
    if (!route) {
      reply(404, `nothing at ${path}; try ${Object.keys(options.routes).join(', ')}`);
      return;
    }
    route.body().then(
      (body) => {
        response.writeHead(200, { 'content-type': route.contentType });
        response.end(request.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        options.log.error({ err, path }, 'http route failed');
        reply(500, 'the server could not build this page; see its log');
      },
    );
  };
  return listenHttp(options.listen, options.tls, handle);
}

/**
 * Serves `handle` over HTTP (or HTTPS with `tls`) on `listen` (HOST:PORT, port 0 picks one).
 * A bad address is a usage error; a port in use says so.
 */
export async function listenHttp(
  listen: string,
  tls: TlsFiles | undefined,
  handle: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<RunningHttpServer & { server: Server }> {
  const server: Server = tls
    ? createHttpsServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, handle)
    : createHttpServer(handle);
  const separator = listen.lastIndexOf(':');
  const host = listen.slice(0, separator).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(separator + 1));
  if (separator < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw badFlag(`cannot listen on ${listen}: give HOST:PORT`);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new StartupError(`cannot listen on ${listen}: ${err.code === 'EADDRINUSE' ? 'the address is already in use' : err.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    address: `${listen.slice(0, separator)}:${bound}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
